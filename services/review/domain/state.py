"""A proposal's state as folded from its events."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.lifecycle import ALLOWED_MOVES, Status

__all__ = ["ALLOWED_MOVES", "ProposalState", "Status"]


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
