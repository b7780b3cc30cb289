from cpdesk import errors
from cpdesk.errors import PolicyError, RateLimited, SignInFailed, UserFacingError


def test_every_exported_name_exists() -> None:
    for name in errors.__all__:
        assert hasattr(errors, name)


def test_default_messages_are_used() -> None:
    assert SignInFailed().user_message == "The username, password or code is not right."
    assert isinstance(SignInFailed(), UserFacingError)


def test_policy_error_names_the_key() -> None:
    err = PolicyError("idle_lock_seconds", "must be at least 15", "/etc/x.json")
    assert "idle_lock_seconds" in err.user_message
    assert "/etc/x.json" in err.user_message


def test_rate_limited_says_when_to_retry() -> None:
    assert "30 seconds" in RateLimited(30).user_message
    assert RateLimited().user_message == "Too many requests in a short time."
