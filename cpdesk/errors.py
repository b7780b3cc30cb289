"""Typed errors that say who is at fault, each with a message a person can act on.

    CpdeskError
     ├── Cancelled                 silent: the user (or a newer request) cancelled
     └── UserFacingError           shown to the user as `user_message`; never holds child data
          ├── NetworkError
          │    ├── ServerUnreachable    nothing answered (refused, DNS, no route)
          │    ├── ServerTimeout        the server accepted but did not answer in time
          │    └── CertificateError     TLS failed: untrusted chain, wrong host, pin mismatch
          ├── ServerError               5xx, or an answer this version cannot read
          │    └── MalformedResponse
          ├── AuthError
          │    ├── SignInFailed         wrong username, password or code (or locked out)
          │    ├── SessionExpired       401 on an authenticated call: back to sign-in
          │    └── Forbidden            403
          ├── RequestRejected           4xx with an OperationOutcome (bad search, no reason)
          │    └── TooManyMatches       the search matched more than asked for
          ├── RateLimited               429, with retry_after seconds
          ├── NotFound                  404
          ├── CacheError                the encrypted cache could not be used
          └── PolicyError               an admin policy value is invalid (names the key)

Anything else that escapes is a bug: logged (without data) and shown as a generic message.
Messages are built in `__init__` so no caller can smuggle child data into them.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "CacheError",
    "Cancelled",
    "CertificateError",
    "CpdeskError",
    "Forbidden",
    "MalformedResponse",
    "NetworkError",
    "NotFound",
    "PolicyError",
    "RateLimited",
    "RequestRejected",
    "ServerError",
    "ServerTimeout",
    "ServerUnreachable",
    "SessionExpired",
    "SignInFailed",
    "TooManyMatches",
    "UserFacingError",
]


class CpdeskError(Exception):
    """Base of every error cpdesk raises on purpose."""


class Cancelled(CpdeskError):
    """The operation was cancelled; nothing to show."""


class UserFacingError(CpdeskError):
    """An error whose `user_message` is safe and useful to show as it is."""

    default_message = "Something went wrong."

    def __init__(self, user_message: str | None = None) -> None:
        self.user_message = user_message or self.default_message
        super().__init__(self.user_message)


class NetworkError(UserFacingError):
    default_message = "The index could not be reached."


class ServerUnreachable(NetworkError):
    default_message = (
        "The index server cannot be reached. Check the network connection and try again."
    )


class ServerTimeout(NetworkError):
    default_message = "The index server did not answer in time. Try again in a moment."


class CertificateError(NetworkError):
    default_message = (
        "The index server's certificate is not trusted, so nothing was sent. "
        "Tell your IT service desk."
    )


class ServerError(UserFacingError):
    default_message = "The index server had a problem. Try again in a moment."


class MalformedResponse(ServerError):
    default_message = (
        "The server sent an answer this version cannot read. "
        "Try again; if it keeps happening, tell your IT service desk."
    )


class AuthError(UserFacingError):
    default_message = "You are not signed in."


class SignInFailed(AuthError):
    default_message = "The username, password or code is not right."


class SessionExpired(AuthError):
    default_message = "Your session has ended. Sign in again to continue."


class Forbidden(AuthError):
    default_message = "Your account is not allowed to do that."


class RequestRejected(UserFacingError):
    """The server refused the request; `code` is the PDS-style code, if any."""

    default_message = "The index could not accept that request."

    def __init__(self, user_message: str | None = None, code: str | None = None) -> None:
        super().__init__(user_message)
        self.code = code


class TooManyMatches(RequestRejected):
    default_message = "Too many children match. Add more details: a given name, gender or postcode."

    def __init__(self, user_message: str | None = None) -> None:
        super().__init__(user_message, code="TOO_MANY_MATCHES")


class RateLimited(UserFacingError):
    def __init__(self, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        wait = f" Try again in {int(retry_after)} seconds." if retry_after else ""
        super().__init__("Too many requests in a short time." + wait)


class NotFound(UserFacingError):
    default_message = "That record is no longer in the index."


class CacheError(UserFacingError):
    default_message = "The local cache could not be used; records will be fetched again."


class PolicyError(UserFacingError):
    """An invalid or unknown admin policy value: the app refuses to start."""

    def __init__(self, key: str, problem: str, source: str = "") -> None:
        self.key = key
        where = f" (in {source})" if source else ""
        super().__init__(f"Policy setting '{key}'{where} is not valid: {problem}")
