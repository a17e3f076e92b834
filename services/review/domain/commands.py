"""Commands: what someone asks of a proposal, in the imperative. `at` is when it was asked."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from services.review.domain.events import ChecklistItem


@dataclass(frozen=True)
class RecordSubmission:
    at: datetime
    proposal: dict[str, Any]


@dataclass(frozen=True)
class RecordRevision:
    at: datetime
    proposal: dict[str, Any]


@dataclass(frozen=True)
class RecordWithdrawal:
    at: datetime
    reason: str


@dataclass(frozen=True)
class VerifyProposal:
    at: datetime
    outcome: Literal["passed", "failed"]
    checklist: dict[str, ChecklistItem] = field(default_factory=dict)
    notes: str = ""


@dataclass(frozen=True)
class ValidateProposal:
    at: datetime
    outcome: Literal["passed", "failed"]
    notes: str = ""


@dataclass(frozen=True)
class RequestRevision:
    at: datetime
    reasons: tuple[str, ...]
    notes: str = ""


@dataclass(frozen=True)
class RegisterNationally:
    at: datetime
    sinovik_reference: str


@dataclass(frozen=True)
class RecordSelection:
    at: datetime
    stage: Literal["top99", "top45", "winner"]
    outcome: Literal["selected", "not_selected"]
    notes: str = ""


Command = (
    RecordSubmission
    | RecordRevision
    | RecordWithdrawal
    | VerifyProposal
    | ValidateProposal
    | RequestRevision
    | RegisterNationally
    | RecordSelection
)
