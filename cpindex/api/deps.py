"""Dependencies the routers share: the services, the signed-in user, the audit writer (which
also spends the rate limits, in the audit group's transaction) and the JSON body.

Routers declare what they need as parameters (`info: SignedIn`, `audit: Audit`,
`body: JsonBody`); FastAPI resolves them in the order given, so a route that needs the
user before its body lists `SignedIn` first.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import json
import logging
from typing import Annotated, Any, cast

from fastapi import Depends, Request
from sqlalchemy import Connection
from starlette.types import Scope

from cpindex.api.services import Services
from cpindex.audit import row_values
from cpindex.audit.chain import append_row
from cpindex.audit.group import Limit, Written
from cpindex.auth.sessions import SessionInfo
from cpindex.config import ServerSettings
from cpindex.errors import RequestError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_MAX_NESTING = 8  # every body we take is a flat object; json.loads recurses per level
_log = logging.getLogger("cpindex.api")

__all__ = [
    "Audit",
    "AuditWriter",
    "JsonBody",
    "ServicesDep",
    "SignedIn",
    "audit_failure",
    "client_address",
    "iso",
    "json_body",
    "services_of",
    "set_session_headers",
    "signed_in",
    "signed_in_on",
    "text_field",
    "touched",
]


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def services_of(request: Request) -> Services:
    return cast(Services, request.app.state.services)


def set_session_headers(request: Request, info: SessionInfo) -> None:
    """Tell the client when its session ends (added to the answer by the middleware)."""
    request.scope.setdefault("state", {})["response_headers"] = {
        "X-Session-Idle-Expires": iso(info.idle_expires_at),
        "X-Session-Absolute-Expires": iso(info.absolute_expires_at),
    }


def _networks(settings: ServerSettings) -> tuple[IPNetwork, ...]:
    """The proxies whose X-Forwarded-For is believed: --trusted-proxy, else, with
    --behind-proxy alone, a proxy on this machine (loopback)."""
    given = settings.trusted_proxy or (("127.0.0.0/8", "::1") if settings.behind_proxy else ())
    return _parsed(given)


@functools.cache
def _parsed(networks: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in networks)


def client_address(scope: Scope, settings: ServerSettings) -> str | None:
    """The client's address for the audit: the peer, or, when the peer is a trusted proxy,
    the nearest untrusted address in X-Forwarded-For (read right to left, so a client
    cannot choose it by sending its own header)."""
    peer = (scope.get("client") or (None,))[0]
    trusted = _networks(settings)
    address = _ip(peer)
    if address is None or not any(address in net for net in trusted):
        return str(peer)[:45] if peer else None
    forwarded = [
        value.decode("latin-1")
        for name, value in scope.get("headers", ())
        if name == b"x-forwarded-for"
    ]
    hops = [hop.strip() for value in forwarded for hop in value.split(",")]
    for hop in reversed(hops):
        hop_address = _ip(hop)
        if hop_address is None:
            break  # a malformed hop: keep the last address we can vouch for
        address = hop_address
        if not any(hop_address in net for net in trusted):
            break
    return str(address)


def _ip(text: object) -> IPAddress | None:
    try:
        return ipaddress.ip_address(str(text).strip("[]"))
    except ValueError:
        return None


def _denied(message: str = "Sign in again: the session has ended.") -> RequestError:
    return RequestError(
        401, "login", "ACCESS_DENIED", message, headers={"WWW-Authenticate": "Bearer"}
    )


def signed_in(request: Request) -> SessionInfo:
    """The bearer token's session (sliding its idle expiry), or 401."""
    return touched(request, signed_in_on(request, None))


def signed_in_on(request: Request, conn: Connection | None) -> SessionInfo:
    """The bearer token's session looked up on `conn` (a route's read connection), not yet
    slid: call `touched` after giving the connection back. Else 401."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _denied("Sign in first: no bearer token was sent.")
    info = services_of(request).sessions.authenticate(token.strip(), conn=conn, touch=False)
    if info is None:
        raise _denied()
    request.scope.setdefault("state", {})["session"] = info  # for audit_failure
    return info


def touched(request: Request, info: SessionInfo) -> SessionInfo:
    """Slide the session's idle expiry (when due) and tell the client when it ends."""
    info = services_of(request).sessions.touch(info)
    set_session_headers(request, info)
    return info


class AuditWriter:
    """Writes audit rows for one request (its id, the signed-in user's role and organisation).

    Rows go through the process's group writer (cpindex.audit.group): each call returns
    once its row is committed, so the answer is sent only after its audit row exists.
    """

    def __init__(self, request: Request, services: Services) -> None:
        self.request = request
        self.services = services

    def _values(
        self, info: SessionInfo | None, action: str, outcome: str, **kw: Any
    ) -> dict[str, Any]:
        return row_values(
            at=self.services.clock.now(),  # replaced by the group's commit time
            action=action,
            outcome=outcome,
            request_id=self.request.scope.get("state", {}).get("request_id"),
            username=info.user.username if info else kw.pop("username", None),
            role=info.user.role if info else kw.pop("role", None),
            organisation=info.user.organisation if info else kw.pop("organisation", None),
            client_address=client_address(self.request.scope, self.services.settings),
            **kw,
        )

    def __call__(
        self,
        info: SessionInfo | None,
        action: str,
        outcome: str,
        conn: Connection | None = None,
        **kw: Any,
    ) -> None:
        """Append the row through the group writer; with `conn` (a serialised transaction),
        in that transaction instead, so the change it records and its row commit together."""
        values = self._values(info, action, outcome, **kw)
        if conn is None:
            self.services.audit_log.append(values)
        else:
            append_row(conn, values)

    def lock_out(self, username: str) -> None:
        settings = self.services.settings
        detail = {"minutes": settings.lockout_minutes, "failures": settings.lockout_failures}
        self(None, "lock-out", "success", username=username, detail=detail)

    def limited(self, info: SessionInfo, kind: str, limit: int, **kw: Any) -> None:
        """Spend one `kind` request and write its audit row in the same group transaction.

        Done after the work (the search's reads never wait for the write lock), before the
        answer: over the limit, the row says so and the caller gets 429, not the results.
        """
        _raise_if_over(kind, self.services.audit_log.append(*self._limited(info, kind, limit, kw)))

    async def limited_async(self, info: SessionInfo, kind: str, limit: int, **kw: Any) -> None:
        """`limited` for a route on the event loop: awaits the row's group, holds no thread."""
        values, spend = self._limited(info, kind, limit, kw)
        _raise_if_over(kind, await self.services.audit_log.append_async(values, spend))

    def _limited(
        self, info: SessionInfo, kind: str, limit: int, kw: dict[str, Any]
    ) -> tuple[dict[str, Any], Limit]:
        """The row to write, and the limit that rewrites it as refused when spent."""
        outcome = kw.pop("outcome", "success")
        refused_detail = {k: v for k, v in kw.get("detail", {}).items() if k != "results"}
        refused = self._values(info, kind, "rate-limited", **{**kw, "detail": refused_detail})

        def over(values: dict[str, Any]) -> dict[str, Any]:
            return {**refused, "at": values["at"]}

        values = self._values(info, kind, outcome, **kw)
        return values, Limit(info.user.user_id, kind, limit, over)


def _raise_if_over(kind: str, written: Written) -> None:
    wait = written.wait
    if wait is not None:
        raise RequestError(
            429,
            "throttled",
            "TOO_MANY_REQUESTS",
            f"Too many {kind}es this minute: wait {wait} seconds and try again."
            if kind == "search"
            else f"Too many records opened this minute: wait {wait} seconds and try again.",
            headers={"Retry-After": str(wait)},
        )


def audit_failure(scope: Scope) -> None:
    """Audit a request that hit an unexpected error: who, which route, never the error text.

    Called by the middleware's catch-all; a failing store must not turn into a second error.
    """
    app = scope.get("app")
    services = getattr(getattr(app, "state", None), "services", None)
    if not isinstance(services, Services):
        return
    state = scope.get("state", {})
    info = state.get("session")
    route = getattr(scope.get("route"), "path", None) or "unmatched"
    detail = {"method": scope.get("method"), "route": route, "error": "SERVER_ERROR"}
    try:
        services.audit_log.append(
            row_values(
                at=services.clock.now(),
                action="request",
                outcome="error",
                request_id=state.get("request_id"),
                username=info.user.username if info else None,
                role=info.user.role if info else None,
                organisation=info.user.organisation if info else None,
                detail=detail,
                client_address=client_address(scope, services.settings),
            )
        )
    except Exception as exc:  # logged by type only: no child data
        _log.error("could not audit a failed request: %s", type(exc).__name__)


async def audit_writer(request: Request) -> AuditWriter:
    return AuditWriter(request, services_of(request))


async def _services(request: Request) -> Services:  # async: no thread hop for a lookup
    return services_of(request)


async def json_body(request: Request) -> dict[str, Any]:
    """The body as a JSON object (its size is bounded by the middleware, before this)."""
    if request.headers.get("content-type", "").split(";")[0].strip() not in (
        "application/json",
        "application/fhir+json",
    ):
        raise RequestError(400, "value", "INVALID_VALUE", "Send the body as JSON.")
    raw = await request.body()
    if _nesting(raw) > _MAX_NESTING:
        raise RequestError(400, "value", "INVALID_VALUE", "The body is nested too deeply.")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise RequestError(400, "value", "INVALID_VALUE", "The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise RequestError(400, "value", "INVALID_VALUE", "The body must be a JSON object.")
    return body


def _nesting(raw: bytes) -> int:
    """How deep arrays and objects nest in `raw` (JSON text), strings skipped; no recursion."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def text_field(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise RequestError(400, "required", "MISSING_VALUE", f"Give '{name}' as text.")
    if len(value) > 1024:
        raise RequestError(400, "value", "INVALID_VALUE", f"'{name}' is too long.")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise RequestError(400, "value", "INVALID_VALUE", f"'{name}' holds control characters.")
    return value


ServicesDep = Annotated[Services, Depends(_services)]
SignedIn = Annotated[SessionInfo, Depends(signed_in)]
Audit = Annotated[AuditWriter, Depends(audit_writer)]
JsonBody = Annotated[dict[str, Any], Depends(json_body)]
