"""POST /$feed: an admin sends a council feed (CSV or FHIR Bundle) for a registered source.

The same load as `cpindex feed load` (cpindex.feeds.store.load_feed), run off the event
loop. The answer is a collection Bundle holding one OperationOutcome: an information
issue with the counts, then one warning issue per rejected row ("row N: reason") - the
report back to the source. A refused feed is a 400 and changes nothing. The middleware
bounds the body before this router: this path alone takes up to the `feed_max_bytes`
setting (cpindex.api.middleware), and the load enforces the same limit.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from cpindex.api.deps import Audit, ServicesDep, SignedIn
from cpindex.api.openapi import query_parameters
from cpindex.api.outcomes import fhir_response
from cpindex.errors import RequestError
from cpindex.feeds.formats import FeedRejected
from cpindex.feeds.store import Actor, UnknownSource, load_feed

__all__ = ["router"]

router = APIRouter(tags=["feed"])

_PARAMETERS = {"source": ({"type": "string"}, "The registered source sending the feed")}


@router.post("/$feed", openapi_extra=query_parameters(_PARAMETERS))
async def post_feed(
    request: Request, info: SignedIn, services: ServicesDep, audit: Audit
) -> Response:
    """Check, link and load a feed; admin users only."""
    if info.user.role != "admin":
        audit(info, "feed-load", "denied")
        raise RequestError(403, "forbidden", "ACCESS_DENIED", "Only an admin may load feeds.")
    source_name = request.query_params.get("source", "").strip()
    if not source_name:
        raise RequestError(400, "required", "MISSING_VALUE", "Give the feed's 'source'.")
    data = await request.body()
    actor = Actor(info.user.username, info.user.role, info.user.organisation)
    try:
        report = await run_in_threadpool(
            load_feed,
            services.engine,
            data,
            source_name,
            now=services.clock.now(),
            actor=actor,
            max_bytes=services.settings.feed_max_bytes,
        )
    except UnknownSource:
        raise RequestError(
            400, "value", "INVALID_VALUE", "No such source: register it with `cpindex source add`."
        ) from None
    except FeedRejected as exc:
        raise RequestError(
            400, "invalid", "INVALID_VALUE", f"Feed refused, nothing loaded: {exc}."
        ) from None
    if report.unchanged:
        summary = f"feed {report.feed_id}: the same file as the current feed; nothing changed"
    else:
        summary = (
            f"feed {report.feed_id} ({report.format}): {report.linked} linked, "
            f"{report.review} to review, {len(report.rejected)} rejected"
        )
    issues: list[dict[str, Any]] = [
        {"severity": "information", "code": "informational", "diagnostics": summary}
    ]
    issues += [
        {"severity": "warning", "code": "invalid", "diagnostics": f"row {r.number}: {r.reason}"}
        for r in report.rejected
    ]
    outcome = {"resourceType": "OperationOutcome", "issue": issues}
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": outcome}]}
    return fhir_response(bundle)
