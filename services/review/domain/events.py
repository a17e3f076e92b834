"""Events of a proposal's stream, named in the past tense, each with an explicit type name and schema version.

The stored `type` is the name below, never a module path, so code can move without rewriting history.
"""

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict


class DomainEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: ClassVar[str]
    schema_version: ClassVar[int] = 1

    at: datetime


class ProposalSubmitted(DomainEvent):
    type: ClassVar[str] = "ProposalSubmitted"
    proposal: dict[str, Any]


class ProposalRevised(DomainEvent):
    type: ClassVar[str] = "ProposalRevised"
    proposal: dict[str, Any]


class ProposalWithdrawn(DomainEvent):
    type: ClassVar[str] = "ProposalWithdrawn"
    reason: str


class ProposalVerified(DomainEvent):
    type: ClassVar[str] = "ProposalVerified"
    checklist: dict[str, bool]
    notes: str


class VerificationFailed(DomainEvent):
    type: ClassVar[str] = "VerificationFailed"
    checklist: dict[str, bool]
    notes: str


class ProposalValidated(DomainEvent):
    type: ClassVar[str] = "ProposalValidated"
    notes: str


class ValidationFailed(DomainEvent):
    type: ClassVar[str] = "ValidationFailed"
    notes: str


class RevisionRequested(DomainEvent):
    type: ClassVar[str] = "RevisionRequested"
    reasons: list[str]
    notes: str


class ProposalRegistered(DomainEvent):
    type: ClassVar[str] = "ProposalRegistered"
    sinovik_reference: str


class SelectionRecorded(DomainEvent):
    type: ClassVar[str] = "SelectionRecorded"
    stage: Literal["top99", "top45", "winner"]
    outcome: Literal["selected", "not_selected"]
    notes: str


EVENT_TYPES: dict[str, type[DomainEvent]] = {
    cls.type: cls
    for cls in (
        ProposalSubmitted,
        ProposalRevised,
        ProposalWithdrawn,
        ProposalVerified,
        VerificationFailed,
        ProposalValidated,
        ValidationFailed,
        RevisionRequested,
        ProposalRegistered,
        SelectionRecorded,
    )
}


class UnknownEventType(ValueError):
    pass


def event_from_stored(type_name: str, data: dict[str, Any]) -> DomainEvent:
    cls = EVENT_TYPES.get(type_name)
    if cls is None:
        raise UnknownEventType(f"no event type named {type_name!r}")
    return cls.model_validate(data)


def event_to_data(event: DomainEvent) -> dict[str, Any]:
    return event.model_dump(mode="json")
