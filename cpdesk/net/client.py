"""The index API client: sign-in, search, record, sign-out, over one `requests.Session`.

Methods block; the UI calls them from worker threads and `cancel_all()` from the GUI
thread. Every failure leaves as a `cpdesk.errors` type with a message a person can act on;
no response body, URL or query reaches an exception or a log line (only the
`diagnostics` sentence of an OperationOutcome, which describes the request). Errors are
raised outside `except` blocks so no chained exception can carry data either.

Retries: exactly one, after a short backoff, and only for GETs that failed on the way
(unreachable, timeout, 502/503/504) — never a POST or DELETE, never after a 401.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.cookiejar import DefaultCookiePolicy
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import requests
from urllib3.exceptions import HTTPError, ReadTimeoutError

from cpdesk.errors import (
    Cancelled,
    CertificateError,
    CpdeskError,
    Forbidden,
    MalformedResponse,
    NotFound,
    PolicyError,
    RateLimited,
    RequestRejected,
    ServerError,
    ServerTimeout,
    ServerUnreachable,
    SessionExpired,
    SignInFailed,
    TooManyMatches,
)
from cpdesk.net import fhir
from cpdesk.net.tls import PinnedAdapter, adapter_prefix, validate_pins
from cpdesk.notices import INDEX_TEAM_ROLE
from cpdesk.policy import normalise_server_url
from cpdesk.records import (
    LOGGABLE_FIELDS,
    AccessReason,
    ChildRecord,
    Involvement,
    SearchQuery,
    SearchResult,
    UserInfo,
)

if TYPE_CHECKING:
    from cpdesk.involvements import SelfDeclaration
    from cpdesk.notices import Category, Notice

__all__ = [
    "MAX_REASON_TEXT",
    "MAX_RESPONSE_BYTES",
    "IndexClient",
    "SignInResult",
    "make_http_session",
]

log = logging.getLogger(__name__)

MAX_REASON_TEXT = 500
MAX_RESPONSE_BYTES = 4 * 1024 * 1024  # a whole record is a few kB; more is not an answer
_USER_AGENT = "cpdesk/0.1"
NOTICE_GONE = "That notice is no longer in your inbox (it may have been dealt with)."
_RETRY_STATUSES = frozenset({502, 503, 504})
# What a log line may hold: the records allowlist plus facts about the HTTP exchange.
_LOG_FIELDS = LOGGABLE_FIELDS | {"status", "operation", "attempt", "cause"}
# urllib3 logs full URLs (a search's names and date of birth): never let it.
_NOISY_LOGGERS = (
    "urllib3.connectionpool",
    "urllib3.util.retry",
    "urllib3.connection",
    "urllib3.response",
    "urllib3.poolmanager",
)


@dataclass(frozen=True)
class SignInResult:
    user: UserInfo
    idle_timeout_seconds: int
    absolute_expires_at: dt.datetime
    idle_expires_at: dt.datetime


class _DropUrlLogs(logging.Filter):
    """urllib3 puts URLs (names, dates of birth) in debug lines and in several warnings'
    arguments; our own line per request already says what failed, so drop them all."""

    def filter(self, record: logging.LogRecord) -> bool:
        return False


_URL_FILTER = _DropUrlLogs()


def _silence_url_logging() -> None:
    for name in _NOISY_LOGGERS:
        logger = logging.getLogger(name)
        if _URL_FILTER not in logger.filters:
            logger.addFilter(_URL_FILTER)


def make_http_session() -> requests.Session:
    """The app's one HTTP session: no environment trust, proxies or .netrc."""
    _silence_url_logging()
    session = requests.Session()
    session.trust_env = False
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))  # nothing kept
    session.headers["User-Agent"] = _USER_AGENT
    return session


def _log(event: str, **fields: object) -> None:
    unknown = set(fields) - _LOG_FIELDS
    if unknown:
        raise ValueError("not an allowlisted log field")  # a bug, caught in tests
    log.info("%s %s", event, " ".join(f"{k}={v}" for k, v in sorted(fields.items())))


@dataclass(frozen=True)
class _Answer:
    status: int
    body: object  # parsed JSON, or None when the body was not JSON
    headers: Mapping[str, str]
    content: bytes = field(default=b"", repr=False)  # the body as received


class IndexClient:
    """One per signed-in app; methods block (call them from worker threads, never the GUI)."""

    def __init__(
        self,
        http: requests.Session,
        base_url: str,
        *,
        ca_bundle: str | None = None,
        spki_pins: Sequence[str] = (),
        connect_timeout: float = 5.0,
        read_timeout: float = 15.0,
        retry_backoff: float = 0.5,
    ) -> None:
        base = normalise_server_url(base_url)  # one spelling, the one the pins are bound to
        try:
            pins = validate_pins(spki_pins)
        except ValueError:
            raise PolicyError("spki_pins", "each pin must be a base64 SHA-256") from None
        _silence_url_logging()
        self._http = http
        http.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise override verify=
        self._base = base
        self._verify: str | bool = ca_bundle or True
        self._timeouts = (connect_timeout, read_timeout)
        self._backoff = retry_backoff
        try:
            self._adapter = PinnedAdapter(origin=base, ca_bundle=ca_bundle or None, pins=pins)
        except (OSError, ValueError):  # ssl.SSLError is an OSError
            raise PolicyError("ca_bundle", "the file cannot be read as PEM certificates") from None
        # Every http(s) request of this session goes through the pinned adapter, which
        # refuses all origins but the index's: no prefix to miss, whatever the spelling.
        for prefix in ("https://", "http://", adapter_prefix(base)):
            http.mount(prefix, self._adapter)
        self._lock = threading.Condition()
        self._token: str | None = None
        self._team = False  # the index team is served shielded children's full records
        self._absolute_expires_at: dt.datetime | None = None
        self._idle_expires_at: dt.datetime | None = None
        self._epoch = 0
        self._calls = threading.local()  # the epoch each worker thread's call started in
        self._adapter.set_abort_check(self._thread_call_cancelled)

    # -- public API ----------------------------------------------------------------------

    @property
    def signed_in(self) -> bool:
        with self._lock:
            return self._token is not None

    @property
    def absolute_expires_at(self) -> dt.datetime | None:
        with self._lock:
            return self._absolute_expires_at

    @property
    def idle_expires_at(self) -> dt.datetime | None:
        with self._lock:
            return self._idle_expires_at

    def sign_in(self, username: str, password: str, otp: str) -> SignInResult:
        body = {"username": username, "password": password, "otp": otp}
        answer = self._call("POST", "/auth/session", "sign_in", json_body=body, token=None)
        self._raise_for_status(answer, "sign_in", token=None)
        result, token = _parse_session(answer.body)
        with self._lock:
            self._token = token
            self._team = result.user.role == INDEX_TEAM_ROLE
            self._absolute_expires_at = result.absolute_expires_at
            self._idle_expires_at = result.idle_expires_at
        return result

    def unlock(self, password: str) -> None:
        """Re-check the password of the signed-in user; SignInFailed if wrong.

        A wrong password keeps the token (the session state machine counts the tries); a
        401 that refuses the token itself (`WWW-Authenticate: Bearer`) is SessionExpired.
        """
        token = self._require_token()
        answer = self._call("POST", "/auth/unlock", "unlock", {"password": password}, token)
        self._raise_for_status(answer, "unlock", token)
        body = answer.body
        if not isinstance(body, Mapping) or body.get("unlocked") is not True:
            raise SignInFailed()

    def sign_out(self) -> None:
        """Best effort revoke; the token is forgotten whatever the server says."""
        with self._lock:
            token, self._token = self._token, None
            self._absolute_expires_at = self._idle_expires_at = None
        if token is None:
            return
        # Best effort: the server expires the token anyway; nothing more the user can do.
        with contextlib.suppress(CpdeskError):
            self._call("DELETE", "/auth/session", "sign_out", None, token)

    def report_offline_view(self, index_id: str, viewed_at: dt.datetime) -> None:
        """Tell the index's audit that this user re-read a cached record while offline."""
        token = self._require_token()
        body = fhir.offline_view_event(index_id, viewed_at)
        answer = self._call("POST", "/AuditEvent", "offline_view", body, token)
        self._raise_for_status(answer, "offline_view", token)

    def declare_involvement(self, index_id: str, declaration: SelfDeclaration) -> Involvement:
        """Say the signed-in practitioner works with the child; the involvement as the
        record now serves it (`POST /PractitionerRole`, never retried)."""
        token = self._require_token()
        body = fhir.declaration_body(index_id, declaration)
        answer = self._call("POST", "/PractitionerRole", "declare", body, token)
        self._raise_for_status(answer, "declare", token)
        return fhir.parse_involvement(answer.body)

    def end_involvement(self, role_id: str) -> None:
        """End the signed-in practitioner's own self-declared involvement."""
        token = self._require_token()
        path = f"/PractitionerRole/{quote(role_id, safe='')}/$end"
        answer = self._call("POST", path, "end_involvement", None, token)
        self._raise_for_status(answer, "end_involvement", token)

    def search(self, query: SearchQuery) -> SearchResult:
        token = self._require_token()
        params = fhir.search_params(query)
        answer = self._call("GET", "/Patient", "search", None, token, params=params)
        self._raise_for_status(answer, "search", token)
        outcome = fhir.parse_outcome(answer.body)
        if outcome is not None:
            if "TOO_MANY_MATCHES" in (outcome.pds_code, outcome.issue_code.upper()) or (
                outcome.issue_code == "multiple-matches"
            ):
                raise TooManyMatches(outcome.diagnostics or None)
            raise MalformedResponse()
        result = fhir.parse_searchset(answer.body)
        _log("search done", count=len(result.children))
        return result

    def record(self, index_id: str, reason: AccessReason, reason_text: str = "") -> ChildRecord:
        return self.record_bundle(index_id, reason, reason_text)[0]

    def record_bundle(
        self, index_id: str, reason: AccessReason, reason_text: str = ""
    ) -> tuple[ChildRecord, bytes]:
        """The record, and its Bundle exactly as received (what the offline cache keeps)."""
        text = reason_text.strip()
        if reason is AccessReason.OTHER and not text:
            raise RequestRejected("Say why you need this record.", code="MISSING_ACCESS_REASON")
        if len(text) > MAX_REASON_TEXT:
            raise RequestRejected(
                f"The reason must be {MAX_REASON_TEXT} characters or fewer.", code="INVALID_VALUE"
            )
        if not index_id.strip():
            raise NotFound()
        token = self._require_token()
        headers = {"X-Access-Reason": reason.value}
        if text:
            headers["X-Access-Reason-Text"] = fhir.encode_reason_text(text)
        path = f"/Patient/{quote(index_id, safe='')}/$everything"
        answer = self._call("GET", path, "record", None, token, headers=headers)
        self._raise_for_status(answer, "record", token)
        with self._lock:
            team = self._team
        child = fhir.parse_everything(answer.body, index_id, team=team)
        _log("record done", index_id=index_id)
        return child, answer.content

    def fetch_json(self, method: str, path: str, operation: str) -> object:
        """One bodyless call as the signed-in user; the parsed JSON answer, or a typed error.

        For callers that parse their own resources (cpdesk.net.review); `path` is built by
        them from fixed parts and quoted ids."""
        token = self._require_token()
        answer = self._call(method, path, operation, None, token)
        self._raise_for_status(answer, operation, token)
        return answer.body

    # -- notices (issue 18; shapes in cpdesk.net.notices) ----------------------------------

    def notice_count(self, *, queue: bool = False) -> int:
        """Unread notices not done (`queue`: the index team's queue): a number only, which
        the index does not audit, so the inbox can poll it."""
        from cpdesk.net.notices import parse_count

        params = [
            ("recipient", "index-team" if queue else "me"),
            ("status", "in-progress"),
            ("received:missing", "true"),
            ("_summary", "count"),
        ]
        body = self._notice_call("GET", "/Communication", "notice_count", params=params)
        return parse_count(body)

    def notices(self, *, queue: bool = False) -> tuple[Notice, ...]:
        """The notices not done yet, newest first (audited by the index as `notice-list`)."""
        from cpdesk.net.notices import parse_notices

        params = [("recipient", "index-team" if queue else "me"), ("status", "in-progress")]
        body = self._notice_call("GET", "/Communication", "notice_list", params=params)
        notices = parse_notices(body)
        _log("notices done", count=len(notices))
        return notices

    def read_notice(self, notice_id: str) -> Notice:
        """One notice; the index marks it read."""
        from cpdesk.net.notices import parse_communication

        return parse_communication(self._notice_call("GET", _notice_path(notice_id), "notice_read"))

    def notice_done(self, notice_id: str) -> Notice:
        from cpdesk.net.notices import parse_communication

        path = _notice_path(notice_id, "$done")
        return parse_communication(self._notice_call("POST", path, "notice_done", json_body={}))

    def send_notice(
        self, patient_id: str, category: Category, text: str, recipients: tuple[str, ...] = ()
    ) -> int:
        """Send a notice about a child whose record this user opened; how many were stored."""
        from cpdesk.net.notices import communication, stored_count

        body = communication(patient_id, category, text, recipients)
        answer = self._notice_call("POST", "/Communication", "notice_send", json_body=body)
        return stored_count(answer)

    def relay_notice(self, notice_id: str, recipients: tuple[str, ...] = ()) -> int:
        """Index team: pass a queued notice on (none named: the lead professional)."""
        from cpdesk.net.notices import stored_count

        body = {"recipient": [{"reference": r} for r in recipients]}
        path = _notice_path(notice_id, "$relay")
        return stored_count(self._notice_call("POST", path, "notice_relay", json_body=body))

    def answer_notice(self, notice_id: str, text: str) -> int:
        """Index team: reply to a queued notice's sender."""
        from cpdesk.net.notices import stored_count

        path = _notice_path(notice_id, "$answer")
        return stored_count(
            self._notice_call("POST", path, "notice_answer", json_body={"text": text})
        )

    def _notice_call(
        self,
        method: str,
        path: str,
        operation: str,
        *,
        params: list[tuple[str, str]] | None = None,
        json_body: Mapping[str, Any] | None = None,
    ) -> object:
        token = self._require_token()
        answer = self._call(method, path, operation, json_body, token, params=params)
        if answer.status == 404:
            raise NotFound(NOTICE_GONE)
        self._raise_for_status(answer, operation, token)
        return answer.body

    def cancel_all(self) -> None:
        """Abandon every call in flight (from any thread): each fails fast with Cancelled."""
        with self._lock:
            self._epoch += 1
            self._lock.notify_all()
        self._adapter.abort_all()

    # -- plumbing ------------------------------------------------------------------------

    def _require_token(self) -> str:
        with self._lock:
            token = self._token
        if token is None:
            raise SessionExpired()
        return token

    def _call(
        self,
        method: str,
        path: str,
        operation: str,
        json_body: Mapping[str, Any] | None,
        token: str | None,
        *,
        params: list[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> _Answer:
        """One exchange, retried once for a GET that failed on the way."""
        with self._lock:
            epoch = self._epoch
        self._calls.epoch = epoch
        try:
            return self._exchange(method, path, operation, json_body, token, params, headers, epoch)
        finally:
            self._calls.epoch = None

    def _exchange(
        self,
        method: str,
        path: str,
        operation: str,
        json_body: Mapping[str, Any] | None,
        token: str | None,
        params: list[tuple[str, str]] | None,
        headers: Mapping[str, str] | None,
        epoch: int,
    ) -> _Answer:
        attempts = 2 if method == "GET" else 1
        for attempt in range(1, attempts + 1):
            error, answer = self._attempt(
                method, path, operation, json_body, token, params, headers, attempt
            )
            if self._cancelled_since(epoch):
                raise Cancelled()
            if answer is not None:
                self._note_session_headers(answer, token)
                if answer.status not in _RETRY_STATUSES or attempt == attempts:
                    return answer
            elif error is None or attempt == attempts or not _retryable(error):
                raise error if error is not None else ServerError()
            if not self._pause(epoch, attempt):
                raise Cancelled()
            self._check_still_current(token)
        raise ServerError()  # unreachable: the loop always returns or raises

    def _attempt(
        self,
        method: str,
        path: str,
        operation: str,
        json_body: Mapping[str, Any] | None,
        token: str | None,
        params: list[tuple[str, str]] | None,
        extra_headers: Mapping[str, str] | None,
        attempt: int,
    ) -> tuple[CpdeskError | None, _Answer | None]:
        request_id = str(uuid.uuid4())
        headers = {"Accept": "application/fhir+json", "X-Request-ID": request_id}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        headers.update(extra_headers or {})
        started = time.monotonic()
        error: CpdeskError | None = None
        answer: _Answer | None = None
        cause = ""
        try:
            response = self._http.request(
                method,
                self._base + path,
                params=params,
                json=json_body,
                headers=headers,
                timeout=self._timeouts,
                verify=self._verify,
                allow_redirects=False,
                stream=True,
            )
            try:
                content = _read_capped(response)
            finally:
                response.close()
        except requests.RequestException as exc:
            error, cause = _map_transport_error(exc), _root_cause(exc)
        except _TooLarge:
            error, cause = MalformedResponse(), "_TooLarge"
        except (OSError, ValueError, LookupError, HTTPError) as exc:
            error, cause = ServerUnreachable(), type(exc).__name__
        else:
            answer = _Answer(
                response.status_code, _json_or_none(content), response.headers, content
            )
        elapsed_ms = int((time.monotonic() - started) * 1000)
        fields: dict[str, object] = {
            "operation": operation,
            "request_id": request_id,
            "elapsed_ms": elapsed_ms,
            "attempt": attempt,
        }
        if answer is not None:
            _log("request", status=answer.status, **fields)
        else:
            _log("request failed", error_class=type(error).__name__, cause=cause, **fields)
        return error, answer

    def _thread_call_cancelled(self) -> bool:
        epoch = getattr(self._calls, "epoch", None)
        return epoch is not None and self._cancelled_since(epoch)

    def _cancelled_since(self, epoch: int) -> bool:
        with self._lock:
            return self._epoch != epoch

    def _check_still_current(self, token: str | None) -> None:
        """Never retry with stale credentials: signed out ends the call, a new sign-in drops it."""
        with self._lock:
            current = self._token
        if token is None or current == token:
            return
        raise SessionExpired() if current is None else Cancelled()

    def _pause(self, epoch: int, attempt: int) -> bool:
        """Back off before the retry; False if cancelled while waiting."""
        deadline = time.monotonic() + self._backoff * attempt
        with self._lock:
            while self._epoch == epoch:
                left = deadline - time.monotonic()
                if left <= 0:
                    return True
                self._lock.wait(left)
        return False

    def _note_session_headers(self, answer: _Answer, token: str | None) -> None:
        if token is None or answer.status >= 400:
            return
        absolute = fhir.parse_instant(answer.headers.get("X-Session-Absolute-Expires"))
        idle = fhir.parse_instant(answer.headers.get("X-Session-Idle-Expires"))
        with self._lock:
            if self._token != token:
                return
            if absolute is not None:
                self._absolute_expires_at = absolute
            if idle is not None:
                self._idle_expires_at = idle

    def _raise_for_status(self, answer: _Answer, operation: str, token: str | None) -> None:
        """Map a non-success status to its typed error (a 401 also forgets the token)."""
        status = answer.status
        if 200 <= status < 300:
            if answer.body is None and status != 204:
                raise MalformedResponse()
            return
        outcome = fhir.parse_outcome(answer.body) or fhir.Outcome()
        diagnostics = outcome.diagnostics or None
        error: CpdeskError
        if status == 401:
            # On unlock, a 401 naming the Bearer scheme is about the token (the session
            # ended), one without it is a wrong password (docs/api.md).
            token_refused = "WWW-Authenticate" in answer.headers
            if operation == "sign_in" or (operation == "unlock" and not token_refused):
                error = SignInFailed()
            else:
                with self._lock:
                    if self._token == token:
                        self._token = None
                        self._absolute_expires_at = self._idle_expires_at = None
                error = SessionExpired()
        elif status == 403:
            error = Forbidden(diagnostics)
        elif status == 404:
            error = NotFound()
        elif status == 429:
            error = RateLimited(_retry_after(answer.headers.get("Retry-After")))
        elif 400 <= status < 500:
            error = RequestRejected(diagnostics, code=outcome.pds_code or None)
        elif status >= 500:
            error = ServerError()
        else:
            error = MalformedResponse()  # 1xx/3xx: not an answer this version expects
        raise error


class _TooLarge(Exception):
    """The answer was longer than any answer of this API can be."""


def _notice_path(notice_id: str, operation: str = "") -> str:
    path = f"/Communication/{quote(notice_id, safe='')}"
    return f"{path}/{operation}" if operation else path


def _read_capped(response: requests.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(chunk_size=65536):
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise _TooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


def _json_or_none(content: bytes) -> object:
    if not content:
        return None
    try:
        return json.loads(content)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        return None


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if 0 <= seconds < 86400 else None


def _retryable(error: CpdeskError) -> bool:
    return isinstance(error, ServerUnreachable | ServerTimeout)


def _map_transport_error(exc: requests.RequestException) -> CpdeskError:
    """A requests exception as a typed error (never keeping the original: it holds the URL)."""
    if isinstance(exc, requests.exceptions.SSLError):
        return CertificateError()
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return ServerUnreachable()  # nothing answered at all
    if isinstance(exc, requests.exceptions.Timeout):
        return ServerTimeout()
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return MalformedResponse()
    if isinstance(exc, requests.exceptions.ConnectionError) and any(
        isinstance(arg, ReadTimeoutError) for arg in exc.args
    ):
        return ServerTimeout()  # a read timeout while reading the body
    return ServerUnreachable()


def _root_cause(exc: BaseException) -> str:
    """The innermost exception's class name (e.g. PinMismatch): a type, never a message."""
    seen: BaseException = exc
    for _ in range(8):
        inner = getattr(seen, "reason", None)
        if not isinstance(inner, BaseException):
            inner = next((a for a in seen.args if isinstance(a, BaseException)), None)
        if inner is None:
            break
        seen = inner
    return type(seen).__name__


def _parse_session(body: object) -> tuple[SignInResult, str]:
    """The sign-in answer; strict: every field the client relies on must be there."""
    data = body if isinstance(body, Mapping) else {}
    user = data.get("user")
    user = user if isinstance(user, Mapping) else {}
    token = data.get("token")
    absolute = fhir.parse_instant(data.get("absolute_expires_at"))
    idle = fhir.parse_instant(data.get("idle_expires_at"))
    idle_seconds = data.get("idle_timeout_seconds")
    username = user.get("username")
    if (
        not isinstance(token, str)
        or not token
        or absolute is None
        or idle is None
        or not isinstance(idle_seconds, int)
        or isinstance(idle_seconds, bool)
        or not isinstance(username, str)
        or not username
    ):
        raise MalformedResponse()
    info = UserInfo(
        username=username,
        display_name=_str(user.get("display_name")) or username,
        role=_str(user.get("role")),
        organisation=_str(user.get("organisation")),
    )
    return SignInResult(info, idle_seconds, absolute, idle), token


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""
