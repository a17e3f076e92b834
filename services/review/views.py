"""What the review API answers for a proposal: the folded state, shaped for reviewers and auditors."""

from typing import Any
from uuid import UUID

from services.review.domain.state import ProposalState
from services.review.eventstore.base import RecordedEvent
from services.review.eventstore.chain import timestamp_text


def proposal_view(proposal_id: UUID, state: ProposalState, version: int) -> dict[str, Any]:
    body = state.proposal
    return {
        "proposal_id": str(proposal_id),
        "status": state.status.value,
        "version": version,
        "round": body.get("round"),
        "group": body.get("group"),
        "category": body.get("category"),
        "title": body.get("title"),
        "agency": body.get("agency"),
        "region": body.get("region"),
        **state.model_dump(mode="json", exclude={"status", "proposal"}),
        "proposal": body,
    }


def event_view(event: RecordedEvent) -> dict[str, Any]:
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
        "hash": event.hash.hex(),
    }
