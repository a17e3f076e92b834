"""A proposal's state as folded from its events, starting from the explicit initial state NOT_SUBMITTED."""

from datetime import datetime
from enum import Enum
from typing import Any, Final, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict

from shared.lifecycle import Status


class ProposalState(BaseModel):
    """Everything a reviewer sees of one proposal, derived only from its events."""

    model_config = ConfigDict(frozen=True)

    status: Status
    proposal: dict[str, Any]
    submitted_at: datetime
    updated_at: datetime
    revisions: int = 0
    revision_request: dict[str, Any] | None = None
    verification: dict[str, Any] | None = None
    validation: dict[str, Any] | None = None
    sinovik_reference: str | None = None
    selections: list[dict[str, Any]] = []
    withdrawal_reason: str | None = None


class NotSubmitted(Enum):
    """The state of a proposal before its first event. It has no status: statuses are public, and nobody
    has submitted it yet. False in a condition, as the absence of a proposal reads."""

    NOT_SUBMITTED = "not_submitted"

    def __bool__(self) -> Literal[False]:
        return False


NOT_SUBMITTED: Final = NotSubmitted.NOT_SUBMITTED
"""Where every proposal's stream starts: the initial state of `decide` and `evolve`."""

State: TypeAlias = ProposalState | Literal[NotSubmitted.NOT_SUBMITTED]
"""What `decide` takes and `fold` answers: a proposal, or none yet."""
