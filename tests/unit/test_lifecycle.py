"""The proposal lifecycle: every allowed move and a refusal for every other."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest

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
from services.review.domain.decider import (
    NOT_SUBMITTED,
    ProposalNotFound,
    TransitionRefused,
    evolve,
    fold,
    status_after_stored,
)
from services.review.domain.state import ProposalState
from shared.lifecycle import ALLOWED_MOVES, CheckOutcome, SelectionOutcome, Stage, Status
from tests.fixtures import a_proposal
from tests.unit.given_when_then import given

T0 = datetime(2023, 4, 1, 9, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)
TEXT = a_proposal()
PASSED, FAILED = CheckOutcome.PASSED, CheckOutcome.FAILED

submitted = ev.ProposalSubmitted(at=T0, proposal=TEXT)
verified = ev.ProposalVerified(at=T0, checklist={"documents": ev.ChecklistItem(passed=True)}, notes="")
validated = ev.ProposalValidated(at=T0, notes="")
revision_requested = ev.RevisionRequested(at=T0, reasons=["shorten the summary"], notes="")
registered = ev.ProposalRegistered(at=T0, sinovik_reference="SINOVIK-2023-0042")
top99 = ev.SelectionRecorded(at=T0, stage=Stage.TOP99, outcome=SelectionOutcome.SELECTED, notes="")
top45 = ev.SelectionRecorded(at=T0, stage=Stage.TOP45, outcome=SelectionOutcome.SELECTED, notes="")

# One history that reaches each status.
HISTORY: dict[Status, tuple[ev.DomainEvent, ...]] = {
    Status.SUBMITTED: (submitted,),
    Status.REVISION_REQUESTED: (submitted, revision_requested),
    Status.VERIFIED: (submitted, verified),
    Status.VALIDATED: (submitted, verified, validated),
    Status.REGISTERED: (submitted, verified, validated, registered),
    Status.TOP99: (submitted, verified, validated, registered, top99),
    Status.TOP45: (submitted, verified, validated, registered, top99, top45),
    Status.WINNER: (
        *(submitted, verified, validated, registered, top99, top45),
        ev.SelectionRecorded(at=T0, stage=Stage.WINNER, outcome=SelectionOutcome.SELECTED, notes=""),
    ),
    Status.NOT_SELECTED: (
        *(submitted, verified, validated, registered),
        top99.model_copy(update={"outcome": SelectionOutcome.NOT_SELECTED}),
    ),
    Status.VERIFICATION_FAILED: (submitted, ev.VerificationFailed(at=T0, checklist={}, notes="")),
    Status.VALIDATION_FAILED: (submitted, verified, ev.ValidationFailed(at=T0, notes="")),
    Status.WITHDRAWN: (submitted, ev.ProposalWithdrawn(at=T0, reason="merged")),
}


# One command that aims at each status.
def command_for(target: Status, current: Status) -> Command:
    stage_after = {Status.REGISTERED: Stage.TOP99, Status.TOP99: Stage.TOP45, Status.TOP45: Stage.WINNER}
    match target:
        case Status.SUBMITTED:
            return RecordRevision(at=T1, proposal=TEXT)
        case Status.REVISION_REQUESTED:
            return RequestRevision(at=T1, reasons=("add the decree",))
        case Status.VERIFIED | Status.VERIFICATION_FAILED:
            return VerifyProposal(at=T1, outcome=PASSED if target is Status.VERIFIED else FAILED)
        case Status.VALIDATED | Status.VALIDATION_FAILED:
            return ValidateProposal(at=T1, outcome=PASSED if target is Status.VALIDATED else FAILED)
        case Status.REGISTERED:
            return RegisterNationally(at=T1, sinovik_reference="SINOVIK-1")
        case Status.TOP99 | Status.TOP45 | Status.WINNER:
            return RecordSelection(at=T1, stage=Stage(target.value), outcome=SelectionOutcome.SELECTED)
        case Status.NOT_SELECTED:
            stage = stage_after.get(current, Stage.TOP99)
            return RecordSelection(at=T1, stage=stage, outcome=SelectionOutcome.NOT_SELECTED)
        case Status.WITHDRAWN:
            return RecordWithdrawal(at=T1, reason="no longer offered")
    raise AssertionError(target)


MOVES = [(current, target) for current in Status for target in Status if target in ALLOWED_MOVES[current]]
REFUSALS = [
    (current, target) for current in Status for target in Status if target not in ALLOWED_MOVES[current]
]


@pytest.mark.parametrize(("current", "target"), MOVES, ids=lambda s: s.value)
def test_allows_every_move_of_the_lifecycle(current: Status, target: Status) -> None:
    [event] = given(*HISTORY[current]).when(command_for(target, current)).decided()
    state = fold([*HISTORY[current], event])
    assert state is not NOT_SUBMITTED
    assert state.status is target
    assert state.updated_at == T1


@pytest.mark.parametrize(("current", "target"), REFUSALS, ids=lambda s: s.value)
def test_refuses_every_other_move_naming_the_status_and_allowed_moves(
    current: Status, target: Status
) -> None:
    with pytest.raises(TransitionRefused) as refused:
        given(*HISTORY[current]).when(command_for(target, current)).decided()
    assert refused.value.current is current
    assert f"proposal is '{current.value}'" in str(refused.value)
    assert refused.value.allowed == [s.value for s in ALLOWED_MOVES[current]]


def test_rejects_validation_before_verification() -> None:
    given(submitted).when(ValidateProposal(at=T1, outcome=PASSED)).then_raises(
        TransitionRefused, "allowed moves: verified, verification_failed, revision_requested, withdrawn"
    )


def test_records_a_submission_once() -> None:
    given().when(RecordSubmission(at=T0, proposal=TEXT)).then(submitted)
    given(submitted).when(RecordSubmission(at=T1, proposal=TEXT)).then_raises(TransitionRefused)


def test_decisions_on_an_unknown_proposal_find_nothing() -> None:
    given().when(VerifyProposal(at=T1, outcome=PASSED)).then_raises(ProposalNotFound)


def test_a_revision_returns_the_proposal_to_submitted_with_the_new_text() -> None:
    revised_text = a_proposal(title="Lapor Cepat Babar 2.0")
    state = (
        given(submitted, revision_requested)
        .when(RecordRevision(at=T1, proposal=revised_text))
        .then(ev.ProposalRevised(at=T1, proposal=revised_text))
    )
    assert (state.status, state.proposal["title"], state.revisions) == (
        Status.SUBMITTED,
        "Lapor Cepat Babar 2.0",
        1,
    )


def test_a_selection_must_follow_the_stages_in_order() -> None:
    history = HISTORY[Status.REGISTERED]
    given(*history).when(
        RecordSelection(at=T1, stage=Stage.TOP45, outcome=SelectionOutcome.SELECTED)
    ).then_raises(TransitionRefused, "needs a proposal that is 'top99'")
    given(*history).when(
        RecordSelection(at=T1, stage=Stage.WINNER, outcome=SelectionOutcome.NOT_SELECTED)
    ).then_raises(TransitionRefused)


def test_verification_keeps_the_checklist_with_its_notes() -> None:
    unsigned = {"decree signed": ev.ChecklistItem(passed=False, note="no signature on page 2")}
    state = (
        given(submitted)
        .when(VerifyProposal(at=T1, outcome=FAILED, checklist=unsigned, notes="no decree"))
        .then(ev.VerificationFailed(at=T1, checklist=unsigned, notes="no decree"))
    )
    assert state.verification == {
        "outcome": "failed",
        "at": T1,
        "checklist": {"decree signed": {"passed": False, "note": "no signature on page 2"}},
        "notes": "no decree",
    }


def test_a_verification_stored_at_version_1_is_read_as_version_2() -> None:
    stored = {"at": T0.isoformat(), "checklist": {"documents": True, "decree": False}, "notes": "lama"}
    event = ev.event_from_stored("ProposalVerified", 1, stored)
    assert event == ev.ProposalVerified(
        at=T0,
        checklist={"documents": ev.ChecklistItem(passed=True), "decree": ev.ChecklistItem(passed=False)},
        notes="lama",
    )
    assert ev.event_from_stored("ProposalVerified", 2, ev.event_to_data(event)) == event


def test_an_event_newer_than_the_code_is_not_guessed_at() -> None:
    with pytest.raises(ev.UnknownEventType, match="newer than this code"):
        ev.event_from_stored("ProposalVerified", 3, {})


@pytest.mark.parametrize("status", list(Status), ids=lambda s: s.value)
def test_the_status_after_a_stored_event_is_the_status_after_the_event(status: Status) -> None:
    last = HISTORY[status][-1]
    data = ev.event_to_data(last)
    data.pop("proposal", None)  # the status publisher reads events without their text
    assert status_after_stored(last.type, data) is status


def test_every_stream_starts_from_the_initial_state() -> None:
    assert fold([]) is NOT_SUBMITTED
    assert not NOT_SUBMITTED  # reads as the absence of a proposal
    assert evolve(NOT_SUBMITTED, submitted).status is Status.SUBMITTED
    with pytest.raises(ValueError, match="ProposalVerified cannot start a stream"):
        evolve(NOT_SUBMITTED, verified)


def test_each_stage_starts_from_the_one_status_that_moves_to_it() -> None:
    assert [stage.starts_from for stage in Stage] == [Status.REGISTERED, Status.TOP99, Status.TOP45]
    assert [stage.status_after(SelectionOutcome.SELECTED) for stage in Stage] == [
        Status.TOP99,
        Status.TOP45,
        Status.WINNER,
    ]
    assert {stage.status_after(SelectionOutcome.NOT_SELECTED) for stage in Stage} == {Status.NOT_SELECTED}


# A decision that keeps the status, added here as any decision is added: a command naming its event, and
# the event saying what it records (no `leads_to`: it leads to no other status). The decider takes it
# unchanged. None is stored yet: announcing one needs the status it keeps, which the status publisher,
# reading one stored event at a time, does not know.
class ReferenceCorrected(ev.DomainEvent):
    type: ClassVar[str] = "ReferenceCorrected"
    sinovik_reference: str

    def recorded(self, state: ProposalState) -> dict[str, Any]:
        return {"sinovik_reference": self.sinovik_reference}


@dataclass(frozen=True)
class CorrectReference(Command):
    sinovik_reference: str

    def event(self) -> ev.DomainEvent:
        return ReferenceCorrected(at=self.at, sinovik_reference=self.sinovik_reference)


@pytest.mark.parametrize("status", [Status.REGISTERED, Status.TOP99, Status.WINNER], ids=lambda s: s.value)
def test_an_event_that_keeps_the_status_is_no_move(status: Status) -> None:
    corrected = ReferenceCorrected(at=T1, sinovik_reference="SINOVIK-2023-0043")
    state = (
        given(*HISTORY[status])
        .when(CorrectReference(at=T1, sinovik_reference="SINOVIK-2023-0043"))
        .then(corrected)
    )
    assert (state.status, state.sinovik_reference, state.updated_at) == (status, "SINOVIK-2023-0043", T1)
    assert status not in ALLOWED_MOVES[status]  # kept, not moved: no move had to allow it
