"""The lifecycle in one place: `decide(command, state) -> events` and `evolve(state, event) -> state`.

Both are pure. Every service path (the intake consumer, reviewer decisions, projections, the as-of view)
goes through these two functions, so the rules cannot drift apart.
"""

from collections.abc import Iterable
from typing import Any

from services.review.domain import events as ev
from services.review.domain.commands import (
    Command,
    RecordRevision,
    RecordSelection,
    RecordSubmission,
    RecordWithdrawal,
    RegisterNationally,
    RequestRevision,
    ValidateProposal,
    VerifyProposal,
)
from services.review.domain.state import ALLOWED_MOVES, ProposalState, Status

# The status a selection at each stage starts from.
STAGE_FROM = {"top99": Status.REGISTERED, "top45": Status.TOP99, "winner": Status.TOP45}


class ProposalNotFound(Exception):
    pass


class TransitionRefused(Exception):
    """A move the lifecycle does not allow. Carries what a caller needs to explain it (HTTP 409)."""

    def __init__(self, current: Status | None, attempted: str, reason: str = "") -> None:
        self.current = current
        self.attempted = attempted
        self.allowed = [s.value for s in ALLOWED_MOVES[current]] if current is not None else []
        allowed = ", ".join(self.allowed) or "none (final status)"
        state = f"proposal is '{current.value}'" if current is not None else "proposal already exists"
        why = f" ({reason})" if reason else ""
        super().__init__(f"cannot move to '{attempted}': {state}{why}; allowed moves: {allowed}")


def decide(command: Command, state: ProposalState | None) -> list[ev.DomainEvent]:
    if isinstance(command, RecordSubmission):
        if state is not None:
            raise TransitionRefused(state.status, Status.SUBMITTED.value, "it was submitted before")
        return [ev.ProposalSubmitted(at=command.at, proposal=command.proposal)]
    if state is None:
        raise ProposalNotFound()
    event = _event_for(command, state)
    target = status_after(event)
    if target not in ALLOWED_MOVES[state.status]:
        raise TransitionRefused(state.status, target.value)
    return [event]


def _event_for(command: Command, state: ProposalState) -> ev.DomainEvent:
    at = command.at
    match command:
        case RecordRevision(proposal=proposal):
            return ev.ProposalRevised(at=at, proposal=proposal)
        case RecordWithdrawal(reason=reason):
            return ev.ProposalWithdrawn(at=at, reason=reason)
        case VerifyProposal(outcome="passed", checklist=checklist, notes=notes):
            return ev.ProposalVerified(at=at, checklist=checklist, notes=notes)
        case VerifyProposal(checklist=checklist, notes=notes):
            return ev.VerificationFailed(at=at, checklist=checklist, notes=notes)
        case ValidateProposal(outcome="passed", notes=notes):
            return ev.ProposalValidated(at=at, notes=notes)
        case ValidateProposal(notes=notes):
            return ev.ValidationFailed(at=at, notes=notes)
        case RequestRevision(reasons=reasons, notes=notes):
            return ev.RevisionRequested(at=at, reasons=list(reasons), notes=notes)
        case RegisterNationally(sinovik_reference=reference):
            return ev.ProposalRegistered(at=at, sinovik_reference=reference)
        case RecordSelection(stage=stage, outcome=outcome, notes=notes):
            if state.status != STAGE_FROM[stage]:
                target = stage if outcome == "selected" else Status.NOT_SELECTED.value
                raise TransitionRefused(
                    state.status, target, f"a {stage} result needs a proposal that is '{STAGE_FROM[stage]}'"
                )
            return ev.SelectionRecorded(at=at, stage=stage, outcome=outcome, notes=notes)
    raise TypeError(f"unknown command {command!r}")  # pragma: no cover - the match is exhaustive


# The status each kind of event leads to. A selection's depends on its stage and outcome.
_STATUS_AFTER: dict[type[ev.DomainEvent], Status] = {
    ev.ProposalSubmitted: Status.SUBMITTED,
    ev.ProposalRevised: Status.SUBMITTED,
    ev.ProposalWithdrawn: Status.WITHDRAWN,
    ev.ProposalVerified: Status.VERIFIED,
    ev.VerificationFailed: Status.VERIFICATION_FAILED,
    ev.ProposalValidated: Status.VALIDATED,
    ev.ValidationFailed: Status.VALIDATION_FAILED,
    ev.RevisionRequested: Status.REVISION_REQUESTED,
    ev.ProposalRegistered: Status.REGISTERED,
}


def status_after(event: ev.DomainEvent) -> Status:
    """The status a proposal has right after `event`, whatever it had before."""
    if isinstance(event, ev.SelectionRecorded):
        return Status(event.stage) if event.outcome == "selected" else Status.NOT_SELECTED
    return _STATUS_AFTER[type(event)]


def status_after_stored(type_name: str, data: dict[str, Any]) -> Status:
    """The same, from a stored event's type and data, without building the event (its proposal text is
    not needed to know the status)."""
    if type_name == ev.SelectionRecorded.type:
        return Status(data["stage"]) if data["outcome"] == "selected" else Status.NOT_SELECTED
    if (kind := ev.EVENT_TYPES.get(type_name)) is None:
        raise ev.UnknownEventType(f"no event type named {type_name!r}")
    return _STATUS_AFTER[kind]


def evolve(state: ProposalState | None, event: ev.DomainEvent) -> ProposalState:
    status = status_after(event)
    if isinstance(event, ev.ProposalSubmitted):
        return ProposalState(
            status=status, proposal=event.proposal, submitted_at=event.at, updated_at=event.at
        )
    if state is None:
        raise ValueError(f"{event.type} cannot start a stream")
    return state.model_copy(update={"status": status, "updated_at": event.at, **_changes(state, event)})


def _changes(state: ProposalState, event: ev.DomainEvent) -> dict[str, Any]:
    """What `event` changes in `state` besides its status and time (one copy per event: a fold of a
    long history, as a projection rebuild is, spends its time here)."""
    match event:
        case ev.ProposalRevised(proposal=proposal):
            return {"proposal": proposal, "revisions": state.revisions + 1}
        case ev.ProposalWithdrawn(reason=reason):
            return {"withdrawal_reason": reason}
        case ev.ProposalVerified() | ev.VerificationFailed():
            outcome = "passed" if isinstance(event, ev.ProposalVerified) else "failed"
            checklist = {name: item.model_dump() for name, item in event.checklist.items()}
            return {
                "verification": {
                    "outcome": outcome,
                    "at": event.at,
                    "checklist": checklist,
                    "notes": event.notes,
                }
            }
        case ev.ProposalValidated() | ev.ValidationFailed():
            outcome = "passed" if isinstance(event, ev.ProposalValidated) else "failed"
            return {"validation": {"outcome": outcome, "at": event.at, "notes": event.notes}}
        case ev.RevisionRequested(reasons=reasons, notes=notes):
            return {"revision_request": {"reasons": reasons, "notes": notes, "at": event.at}}
        case ev.ProposalRegistered(sinovik_reference=reference):
            return {"sinovik_reference": reference}
        case ev.SelectionRecorded(stage=stage, outcome=outcome, notes=notes):
            result = {"stage": stage, "outcome": outcome, "notes": notes, "at": event.at}
            return {"selections": [*state.selections, result]}
    raise TypeError(f"unknown event {event!r}")  # pragma: no cover


def fold(events: Iterable[ev.DomainEvent]) -> ProposalState | None:
    state: ProposalState | None = None
    for event in events:
        state = evolve(state, event)
    return state
