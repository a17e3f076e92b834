"""Events of a proposal's stream, named in the past tense, each with an explicit type name and schema version.

The stored `type` is the name below, never a module path, so code can move without rewriting history.
History is never rewritten when an event's shape changes either: an event stored at an older schema
version is read through upcasters, one version step at a time, into the current shape. (The hash chain
covers what was stored, so upcasting changes nothing an auditor verifies.)
"""

import json
from collections.abc import Callable
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


class ChecklistItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    passed: bool
    note: str = ""


class ProposalVerified(DomainEvent):
    type: ClassVar[str] = "ProposalVerified"
    # Version 2: each checklist item carries a note (version 1 had only passed/failed per item).
    schema_version: ClassVar[int] = 2
    checklist: dict[str, ChecklistItem]
    notes: str


class VerificationFailed(DomainEvent):
    type: ClassVar[str] = "VerificationFailed"
    schema_version: ClassVar[int] = 2
    checklist: dict[str, ChecklistItem]
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
