"""What the review API answers for a proposal: the folded state, shaped for reviewers and auditors."""

import json
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

from services.review.domain.state import ProposalState
from services.review.eventstore.base import EventStore, RecordedEvent
from services.review.eventstore.chain import timestamp_text


def proposal_view(proposal_id: UUID, state: ProposalState, version: int) -> dict[str, Any]:
    return view_from_stored(
        proposal_id, state.model_dump(mode="json", exclude={"proposal"}), state.proposal, version
    )


def view_from_stored(
    proposal_id: UUID, state: dict[str, Any], body: dict[str, Any], version: int
) -> dict[str, Any]:
    """The view from the projection's columns as stored (JSON already): no model to build on a hot read."""
    return {
        "proposal_id": str(proposal_id),
        "status": state["status"],
        "version": version,
        "round": body.get("round"),
        "group": body.get("group"),
        "category": body.get("category"),
        "title": body.get("title"),
        "agency": body.get("agency"),
        "region": body.get("region"),
        **{key: value for key, value in state.items() if key != "status"},
        "proposal": body,
    }


def view_json_from_stored(
    proposal_id: UUID,
    state: dict[str, Any],
    summary: dict[str, Any],
    version: int,
    body_json: str,
    innovator: dict[str, Any],
) -> bytes:
    """The same view, as JSON, from the text's summary fields and the text (without its innovator) as
    PostgreSQL serialised it, spliced in unparsed with the innovator as the reader sees it: the hottest
    read neither decodes nor re-encodes the text, most of its bytes."""
    view = view_from_stored(proposal_id, state, summary, version)
    del view["proposal"]
    head = json.dumps(view, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    person = json.dumps(innovator, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    rest = body_json.strip()[1:-1].strip()
    body = f'{{{rest},"innovator":{person}}}' if rest else f'{{"innovator":{person}}}'
    return f'{head[:-1]},"proposal":{body}}}'.encode()


def event_fields(event: RecordedEvent) -> dict[str, Any]:
    """An event as the API, the export and the transparency log's leaves show it, but for its hash."""
    return {
        "position": event.position,
        "proposal_id": str(event.stream_id),
        "version": event.version,
        "event_id": str(event.event_id),
        "type": event.type,
        "schema_version": event.schema_version,
        "data": event.data,
        "metadata": event.metadata,
        "recorded_at": timestamp_text(event.recorded_at),
    }


def event_view(event: RecordedEvent) -> dict[str, Any]:
    view = event_fields(event)
    view["hash"] = event.hash.hex()
    return view


async def ndjson_lines(store: EventStore, after: int, limit: int | None = None) -> AsyncIterator[bytes]:
    """The history as NDJSON (the feed's and `kipp events export`'s form): one event view a line, read a
    page at a time, so memory stays constant however long the history."""
    async for event in store.read_all(after, limit):
        yield json.dumps(event_view(event), ensure_ascii=False).encode() + b"\n"
