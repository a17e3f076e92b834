"""Commands: what someone asks of a proposal, in the imperative. `at` is when it was asked.

Each command names the event it asks for (`event`); whether the lifecycle allows it is for `decide`.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from services.review.domain import events as ev
from shared.lifecycle import CheckOutcome, SelectionOutcome, Stage


@dataclass(frozen=True)
class Command(ABC):
    at: datetime

    @abstractmethod
    def event(self) -> ev.DomainEvent:
        """The event this command asks to record."""


@dataclass(frozen=True)
class RecordSubmission(Command):
    proposal: dict[str, Any]

    def event(self) -> ev.DomainEvent:
        return ev.ProposalSubmitted(at=self.at, proposal=self.proposal)


@dataclass(frozen=True)
class RecordRevision(Command):
    proposal: dict[str, Any]

    def event(self) -> ev.DomainEvent:
        return ev.ProposalRevised(at=self.at, proposal=self.proposal)


@dataclass(frozen=True)
class RecordWithdrawal(Command):
    reason: str

    def event(self) -> ev.DomainEvent:
        return ev.ProposalWithdrawn(at=self.at, reason=self.reason)


@dataclass(frozen=True)
class VerifyProposal(Command):
    outcome: CheckOutcome
    checklist: dict[str, ev.ChecklistItem] = field(default_factory=dict)
    notes: str = ""

    def event(self) -> ev.DomainEvent:
        kind = ev.ProposalVerified if self.outcome == CheckOutcome.PASSED else ev.VerificationFailed
        return kind(at=self.at, checklist=self.checklist, notes=self.notes)


@dataclass(frozen=True)
class ValidateProposal(Command):
    outcome: CheckOutcome
    notes: str = ""

    def event(self) -> ev.DomainEvent:
        kind = ev.ProposalValidated if self.outcome == CheckOutcome.PASSED else ev.ValidationFailed
        return kind(at=self.at, notes=self.notes)


@dataclass(frozen=True)
class RequestRevision(Command):
    reasons: tuple[str, ...]
    notes: str = ""

    def event(self) -> ev.DomainEvent:
        return ev.RevisionRequested(at=self.at, reasons=list(self.reasons), notes=self.notes)


@dataclass(frozen=True)
class RegisterNationally(Command):
    sinovik_reference: str

    def event(self) -> ev.DomainEvent:
        return ev.ProposalRegistered(at=self.at, sinovik_reference=self.sinovik_reference)


@dataclass(frozen=True)
class RecordSelection(Command):
    stage: Stage
    outcome: SelectionOutcome
    notes: str = ""

    def event(self) -> ev.DomainEvent:
        return ev.SelectionRecorded(at=self.at, stage=self.stage, outcome=self.outcome, notes=self.notes)


@dataclass(frozen=True)
class RecordErasure(Command):
    """Record that a person's data was erased (their key is destroyed already)."""

    subject: UUID

    def event(self) -> ev.DomainEvent:
        return ev.PersonalDataErased(at=self.at, subject=self.subject)
