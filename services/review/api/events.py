"""The global event feed for auditors: pages of JSON, or the whole history as streamed NDJSON."""

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse

from services.review.api.deps import Store
from services.review.api.models import EventPage
from services.review.views import event_view, ndjson_lines
from shared.access.http import Auditor
from shared.openapi import answers
from shared.problems import INVALID_REQUEST, KEYED

router = APIRouter(prefix="/v1/events", tags=["audit"])

NDJSON = "application/x-ndjson"


@router.get(
    "",
    **answers(
        EventPage,
        KEYED,
        INVALID_REQUEST,
        description="A page of events; with Accept: application/x-ndjson, every event after `after`",
        extra={NDJSON: {"type": "string", "description": "One event (as in `events`) a line"}},
    ),
)
async def feed(
    store: Store,
    _: Auditor,
    after: Annotated[int, Query(ge=0, le=2**63 - 1, description="Events after this global position")] = 0,
    limit: Annotated[int | None, Query(ge=1, le=1000, description="At most this many (default 100)")] = None,
    accept: Annotated[str | None, Header()] = None,
) -> dict[str, Any] | StreamingResponse:
    if accept is not None and NDJSON in accept:
        return StreamingResponse(ndjson_lines(store, after, limit), media_type=NDJSON)
    events = [event_view(event) async for event in store.read_all(after, limit or 100)]
    return {"events": events, "next_after": events[-1]["position"] if events else after}
