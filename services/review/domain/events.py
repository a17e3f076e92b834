"""Events of a proposal's stream, named in the past tense, each with an explicit type name and schema version.

The stored `type` is the name below, never a module path, so code can move without rewriting history.
History is never rewritten when an event's shape changes either: an event stored at an older schema
version is read through upcasters, one version step at a time, into the current shape. (The hash chain
covers what was stored, so upcasting changes nothing an auditor verifies.)

Each event also says what it does to a proposal: the status it leads to (`leads_to`; none for an event
that keeps the status) and what it records besides (`recorded`). `evolve` applies exactly that.
"""

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from services.review.domain.state import ProposalState
from shared.lifecycle import CheckOutcome, SelectionOutcome, Stage, Status


class DomainEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: ClassVar[str]
    schema_version: ClassVar[int] = 1
    leads_to: ClassVar[Status | None] = None
    """The status after an event of this kind, whatever the status before. None for an event that keeps
    the status, and for one whose data says which (a selection: see `status_after`)."""

    at: datetime

    def status_after(self) -> Status | None:
        """The status this event leads to; None if the proposal keeps the status it had."""
        return self.leads_to

    def recorded(self, state: ProposalState) -> dict[str, Any]:
        """What this event changes in `state` besides its status and time, as fields to update."""
        return {}


class ProposalSubmitted(DomainEvent):
    """The first event of every stream (see `evolve`)."""

    type: ClassVar[str] = "ProposalSubmitted"
    leads_to: ClassVar[Status] = Status.SUBMITTED
    proposal: dict[str, Any]


class ProposalRevised(DomainEvent):
    type: ClassVar[str] = "ProposalRevised"
    leads_to: ClassVar[Status] = Status.SUBMITTED
    proposal: dict[str, Any]

    def recorded(self, state: ProposalState) -> dict[str, Any]:
        return {"proposal": self.proposal, "revisions": state.revisions + 1}


class ProposalWithdrawn(DomainEvent):
    type: ClassVar[str] = "ProposalWithdrawn"
    leads_to: ClassVar[Status] = Status.WITHDRAWN
    reason: str

    def recorded(self, state: ProposalState) -> dict[str, Any]:
        return {"withdrawal_reason": self.reason}


class ChecklistItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    passed: bool
    note: str = ""


class _Verification(DomainEvent):
    # Version 2: each checklist item carries a note (version 1 had only passed/failed per item).
    schema_version: ClassVar[int] = 2
    outcome: ClassVar[CheckOutcome]
    checklist: dict[str, ChecklistItem]
    notes: str

    def recorded(self, state: ProposalState) -> dict[str, Any]:
        checklist = {name: item.model_dump() for name, item in self.checklist.items()}
        return {
            "verification": {
                "outcome": self.outcome,
                "at": self.at,
                "checklist": checklist,
                "notes": self.notes,
            }
        }


class ProposalVerified(_Verification):
    type: ClassVar[str] = "ProposalVerified"
    leads_to: ClassVar[Status] = Status.VERIFIED
    outcome: ClassVar[CheckOutcome] = CheckOutcome.PASSED


class VerificationFailed(_Verification):
    type: ClassVar[str] = "VerificationFailed"
    leads_to: ClassVar[Status] = Status.VERIFICATION_FAILED
    outcome: ClassVar[CheckOutcome] = CheckOutcome.FAILED


class _Validation(DomainEvent):
    outcome: ClassVar[CheckOutcome]
    notes: str

    def recorded(self, state: ProposalState) -> dict[str, Any]:
        return {"validation": {"outcome": self.outcome, "at": self.at, "notes": self.notes}}


class ProposalValidated(_Validation):
    type: ClassVar[str] = "ProposalValidated"
    leads_to: ClassVar[Status] = Status.VALIDATED
    outcome: ClassVar[CheckOutcome] = CheckOutcome.PASSED


class ValidationFailed(_Validation):
    type: ClassVar[str] = "ValidationFailed"
    leads_to: ClassVar[Status] = Status.VALIDATION_FAILED
    outcome: ClassVar[CheckOutcome] = CheckOutcome.FAILED


class RevisionRequested(DomainEvent):
    type: ClassVar[str] = "RevisionRequested"
    leads_to: ClassVar[Status] = Status.REVISION_REQUESTED
    reasons: list[str]
    notes: str

    def recorded(self, state: ProposalState) -> dict[str, Any]:
        return {"revision_request": {"reasons": self.reasons, "notes": self.notes, "at": self.at}}


class ProposalRegistered(DomainEvent):
    type: ClassVar[str] = "ProposalRegistered"
    leads_to: ClassVar[Status] = Status.REGISTERED
    sinovik_reference: str

    def recorded(self, state: ProposalState) -> dict[str, Any]:
        return {"sinovik_reference": self.sinovik_reference}


class SelectionRecorded(DomainEvent):
    type: ClassVar[str] = "SelectionRecorded"
    stage: Stage
    outcome: SelectionOutcome
    notes: str

    def status_after(self) -> Status:
        return self.stage.status_after(self.outcome)

    def recorded(self, state: ProposalState) -> dict[str, Any]:
        result = {"stage": self.stage, "outcome": self.outcome, "notes": self.notes, "at": self.at}
        return {"selections": [*state.selections, result]}


class PersonalDataErased(DomainEvent):
    """A person named in the proposal had their personal data erased (UU PDP 27/2022): their data key is
    destroyed, so their fields in this stream's events can no longer be decrypted. It names the data
    subject (a random id) only, and keeps the status."""

    type: ClassVar[str] = "PersonalDataErased"
    subject: UUID


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
        PersonalDataErased,
    )
}


class UnknownEventType(ValueError):
    pass


def _checklist_items_gain_a_note(data: dict[str, Any]) -> dict[str, Any]:
    """Verification v1 -> v2: {"item": true} becomes {"item": {"passed": true, "note": ""}}."""
    items = {name: {"passed": passed, "note": ""} for name, passed in data.get("checklist", {}).items()}
    return {**data, "checklist": items}


# (type, stored version) -> the function that lifts its data one version up.
UPCASTERS: dict[tuple[str, int], Callable[[dict[str, Any]], dict[str, Any]]] = {
    ("ProposalVerified", 1): _checklist_items_gain_a_note,
    ("VerificationFailed", 1): _checklist_items_gain_a_note,
}


def event_from_stored(type_name: str, schema_version: int, data: dict[str, Any]) -> DomainEvent:
    cls = _class_of(type_name, schema_version)
    while schema_version < cls.schema_version:
        data = UPCASTERS[(type_name, schema_version)](data)
        schema_version += 1
    return cls.model_validate(data)


def event_from_json(type_name: str, schema_version: int, text: str) -> DomainEvent:
    """The same from the data's JSON text: an event at its current version is parsed straight into its
    model, without building Python dicts first (half the cost, which is what a long replay pays)."""
    cls = _class_of(type_name, schema_version)
    if schema_version < cls.schema_version:
        return event_from_stored(type_name, schema_version, json.loads(text))
    return cls.model_validate_json(text)


def _class_of(type_name: str, schema_version: int) -> type[DomainEvent]:
    cls = EVENT_TYPES.get(type_name)
    if cls is None:
        raise UnknownEventType(f"no event type named {type_name!r}")
    if schema_version > cls.schema_version:
        raise UnknownEventType(
            f"{type_name} v{schema_version} is newer than this code (v{cls.schema_version})"
        )
    return cls


def event_to_data(event: DomainEvent) -> dict[str, Any]:
    return event.model_dump(mode="json")
