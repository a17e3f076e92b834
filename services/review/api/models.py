"""What review's routes answer, as its OpenAPI document describes it. Documentation only: the handlers
build their answers themselves (see services/review/views.py)."""

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema

from shared.contract import SelectionOutcome, SelectionStage, optional
from shared.lifecycle import Status
from shared.proposal import Agency, Region, ShownProposal

Outcome = Literal["passed", "failed"]


class ChecklistItemOut(BaseModel):
    passed: bool
    note: str


class VerificationOut(BaseModel):
    outcome: Outcome
    at: datetime
    checklist: dict[str, ChecklistItemOut]
    notes: str


class ValidationOut(BaseModel):
    outcome: Outcome
    at: datetime
    notes: str


class RevisionRequestOut(BaseModel):
    reasons: list[str]
    notes: str
    at: datetime


class SelectionOut(BaseModel):
    stage: SelectionStage
    outcome: SelectionOutcome
    notes: str
    at: datetime


class ProposalView(BaseModel):
    """A proposal as review holds it, folded from its events: the status, the stream version (also the
    ETag), the proposal's summary, each decision's last result, and the proposal's text as last posted."""

    proposal_id: UUID
    status: Status
    version: int = Field(ge=1, description="The proposal's stream version; If-Match takes it as its ETag")
    round: int
    group: str
    category: str
    title: str
    agency: Agency
    region: Region
    submitted_at: datetime
    updated_at: datetime
    revisions: int = Field(ge=0, description="How many revisions were taken")
    revision_request: RevisionRequestOut | None
    verification: VerificationOut | None
    validation: ValidationOut | None
    sinovik_reference: str | None
    selections: list[SelectionOut]
    withdrawal_reason: str | None
    proposal: ShownProposal = Field(
        description="The proposal as last posted; the innovator erased once the person asked"
    )
    as_of: datetime | SkipJsonSchema[None] = optional(
        "The time asked for (`as_of`): the proposal as it stood"
    )


class ProposalPage(BaseModel):
    """Proposals newest submission first."""

    items: list[ProposalView]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last")


class EventOut(BaseModel):
    """One recorded event: where it stands in the global order and in its proposal's stream, what it
    says, who did it, and its link in the hash chain."""

    position: int = Field(ge=1)
    proposal_id: UUID
    version: int = Field(ge=1)
    event_id: UUID
    type: str = Field(description="The event's type, such as ProposalSubmitted or ProposalVerified")
    schema_version: int = Field(ge=1)
    data: dict[str, Any] = Field(description="The event's data at its schema version")
    metadata: dict[str, Any] = Field(description="Who acted (actor), correlation and causation ids, source")
    recorded_at: datetime
    hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 chaining the event to the one before")


class History(BaseModel):
    proposal_id: UUID
    events: list[EventOut]


class EventPage(BaseModel):
    """Events in global order. Ask with `Accept: application/x-ndjson` for all of them, one JSON object
    a line, streamed."""

    events: list[EventOut]
    next_after: int = Field(ge=0, description="Pass as `after` for the next page")


class Stats(BaseModel):
    total: int = Field(ge=0)
    by_status: dict[str, int]
    by_agency: dict[str, int]
    by_round: dict[str, int]


class ChainReportOut(BaseModel):
    """The hash chain walked from the first event: intact or not, how many events were checked, the head,
    and where and why it first does not match."""

    intact: bool
    checked: int = Field(ge=0)
    head_position: int = Field(ge=0)
    head_hash: str
    first_mismatch: int | None
    reason: str | None
