"""What intake's routes answer, as its OpenAPI document describes it. Documentation only: the handlers
build their answers themselves (see services/intake/repository.py, `proposal_view`)."""

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema

from shared.contract import DecisionDetails, optional
from shared.lifecycle import Status
from shared.proposal import ShownProposal


class Accepted(BaseModel):
    """Taken: the event is recorded and will reach review. `Location` names the proposal. The same
    answer is given again for the same Idempotency-Key and request."""

    proposal_id: UUID
    status: Literal["submitted", "withdrawn"] = Field(description="The proposal's status in intake now")
    submitted_at: datetime | SkipJsonSchema[None] = optional("For a submission")
    revised_at: datetime | SkipJsonSchema[None] = optional("For a revision")
    withdrawn_at: datetime | SkipJsonSchema[None] = optional("For a withdrawal")


class StatusDetail(DecisionDetails):
    """What intake knows of the decision behind the status: review's announcement (less its status,
    version and position), or the withdrawal's reason."""

    cause: str | SkipJsonSchema[None] = optional("The review event behind the status, e.g. RevisionRequested")
    decided_at: datetime | SkipJsonSchema[None] = optional("When it was decided")


class IntakeProposal(BaseModel):
    """A submitter's proposal as intake holds it: the text as last posted, and its status as review last
    announced it (or as intake set it when it took a revision or a withdrawal)."""

    proposal_id: UUID
    status: Status
    status_detail: StatusDetail | None = Field(description="null until review decided something")
    review_version: int = Field(description="The version of review's last announcement followed (0: none)")
    submitted_at: datetime
    updated_at: datetime
    proposal: ShownProposal = Field(
        description="The proposal as last posted; the innovator erased once the person asked"
    )


class IntakeProposalPage(BaseModel):
    """The caller's proposals, newest first."""

    items: list[IntakeProposal]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last")
