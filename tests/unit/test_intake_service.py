"""Intake's use cases on an in-memory repository: no database, no broker, no HTTP.

Each test reads given (what intake holds), when (the command), then (what it answered, stored and put in
the outbox for review)."""

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from services.intake.application import (
    Accepted,
    ApplyStatusChange,
    Idempotency,
    IdempotencyKeyReused,
    IntakeService,
    MoveRefused,
    ProposalNotFound,
    ReviseProposal,
    RulesBroken,
    SubmitProposal,
    WithdrawProposal,
)
from shared.access import Caller, Role
from shared.contract import PROPOSAL_REVISED, PROPOSAL_SUBMITTED, PROPOSAL_WITHDRAWN
from shared.lifecycle import Status
from shared.personal_data.fields import UnreadableField, decrypt_innovator
from shared.proposal import ProposalBody
from shared.rounds import RoundBook, RoundRules, shipped_rounds
from tests.fixtures import SUBMITTER, a_proposal
from tests.unit.fakes import FakeIntakeRepository

NOW = datetime(2023, 4, 10, 8, tzinfo=UTC)  # KIPP 2023 (shipped) is open: 2023-01-01 to 2023-05-06 in WIB
PORTAL = Caller(
    uuid.UUID("0f6f4c1e-8a9b-4c2d-9e3f-1a2b3c4d5e6f"), SUBMITTER.id, Role.SUBMITTER, SUBMITTER.name
)
PDAM = Caller(uuid.uuid4(), uuid.uuid4(), Role.SUBMITTER, "Portal PDAM")


class Intake:
    """The service, its repository and how often it woke the outbox relay."""

    def __init__(self, rounds: RoundBook | None = None) -> None:
        self.repository = FakeIntakeRepository()
        self.relay_woken = 0
        self.service = IntakeService(self.repository, rounds or shipped_rounds(), self._wake)

    def _wake(self) -> None:
        self.relay_woken += 1

    @property
    def outbox(self) -> list[tuple[str, int | None]]:
        return [(e.event_type, e.metadata.sequence) for e in self.repository.tables.outbox]

    def status(self, proposal_id: uuid.UUID) -> Status:
        return self.repository.tables.proposals[proposal_id].status

    async def submitted(self, by: Caller = PORTAL, **changes: Any) -> uuid.UUID:
        return (await self.service.submit(submit(by=by, **changes))).proposal_id

    async def review_says(self, proposal_id: uuid.UUID, status: Status, version: int) -> None:
        change = ApplyStatusChange(proposal_id, status, version, {"notes": "dari review"}, NOW)
        assert await self.service.apply_status_change(change)

    async def revision_requested(self, by: Caller = PORTAL) -> uuid.UUID:
        proposal_id = await self.submitted(by)
        await self.review_says(proposal_id, Status.REVISION_REQUESTED, 2)
        return proposal_id


@pytest.fixture
def intake() -> Intake:
    return Intake()


def submit(by: Caller = PORTAL, now: datetime = NOW, **changes: Any) -> SubmitProposal:
    posted = a_proposal(**changes)
    return SubmitProposal(by, ProposalBody.model_validate(posted), posted, now, "c-submit")


def revise(proposal_id: uuid.UUID, by: Caller = PORTAL, **changes: Any) -> ReviseProposal:
    posted = a_proposal(**changes)
    return ReviseProposal(by, proposal_id, ProposalBody.model_validate(posted), posted, NOW, "c-revise")


def withdraw(proposal_id: uuid.UUID, by: Caller = PORTAL) -> WithdrawProposal:
    return WithdrawProposal(by, proposal_id, "digabung dengan inovasi lain", NOW, "c-withdraw")


async def test_a_submission_is_stored_with_its_event_the_first_of_the_proposal(intake: Intake) -> None:
    # when
    posted = a_proposal()
    command = SubmitProposal(PORTAL, ProposalBody.model_validate(posted), posted, NOW, "c-1")
    accepted = await intake.service.submit(command)
    # then
    assert accepted.body == {
        "proposal_id": str(accepted.proposal_id),
        "status": "submitted",
        "submitted_at": "2023-04-10T08:00:00+00:00",
    }
    [event] = intake.repository.tables.outbox
    assert (event.event_type, event.proposal_id, event.occurred_at) == (
        PROPOSAL_SUBMITTED,
        accepted.proposal_id,
        NOW,
    )
    # Published as posted, the innovator's fields encrypted with the person's key for this event.
    key = intake.repository.tables.data_keys[posted["innovator"]["email"].lower()]
    assert {**event.data, "innovator": None} == {**posted, "innovator": None}
    assert event.data["innovator"]["email"]["subject"] == str(key.subject_id)
    assert posted["innovator"]["email"] not in json.dumps(event.data)
    assert (
        decrypt_innovator(event.data["innovator"], event.event_id, {key.subject_id: key.secret})
        == (posted["innovator"])
    )
    assert (key.subject_id, accepted.proposal_id) in intake.repository.tables.holdings
    assert event.metadata.sequence == 1
    assert event.metadata.actor == PORTAL.as_actor()  # the key's holder, never a field of the body
    assert (event.metadata.correlation_id, event.metadata.source) == ("c-1", "intake-api")
    stored = intake.repository.tables.proposals[accepted.proposal_id]
    assert (stored.owner, stored.status, stored.body) == (PORTAL.holder_id, Status.SUBMITTED, posted)
    assert intake.relay_woken == 1


async def test_one_person_keeps_one_data_key_and_a_ciphertext_opens_only_for_its_own_event(
    intake: Intake,
) -> None:
    # given
    first = await intake.service.submit(submit())
    # when
    second = await intake.service.submit(submit(title="Inovasi kedua"))
    # then
    [one, two] = intake.repository.tables.outbox
    assert one.data["innovator"]["name"]["subject"] == two.data["innovator"]["name"]["subject"]
    assert len(intake.repository.tables.data_keys) == 1
    [key] = intake.repository.tables.data_keys.values()
    keys = {key.subject_id: key.secret}
    assert {(key.subject_id, first.proposal_id), (key.subject_id, second.proposal_id)} == (
        intake.repository.tables.holdings
    )
    with pytest.raises(UnreadableField):  # moved into another event, it does not open
        decrypt_innovator(one.data["innovator"], two.event_id, keys)


async def test_a_proposal_that_breaks_its_rounds_rules_is_refused_naming_each_rule(intake: Intake) -> None:
    # when
    with pytest.raises(RulesBroken) as broken:
        await intake.service.submit(submit(sdgs=[]))
    # then
    assert [(v.field, v.rule) for v in broken.value.violations] == [("sdgs", "min_items")]
    assert intake.repository.tables.proposals == {}
    assert (intake.outbox, intake.relay_woken) == ([], 0)


@pytest.mark.parametrize(
    ("now", "accepted"),
    [
        (datetime.fromisoformat("2023-05-06T23:59:59+07:00"), True),  # the round's last day in WIB
        (datetime.fromisoformat("2023-05-06T17:00:00+00:00"), False),  # 7 May already in WIB
        (datetime.fromisoformat("2022-12-31T17:00:00+00:00"), True),  # 1 January in WIB
        (datetime.fromisoformat("2022-12-31T16:59:59+00:00"), False),
    ],
)
async def test_the_round_is_open_on_whole_days_in_wib(intake: Intake, now: datetime, accepted: bool) -> None:
    # when
    try:
        await intake.service.submit(submit(now=now))
    except RulesBroken as broken:
        refused: list[tuple[str, str]] | None = [(v.field, v.rule) for v in broken.violations]
    else:
        refused = None
    # then
    assert refused == (None if accepted else [("round", "round_closed")])


async def test_a_revision_is_refused_unless_review_asked_for_one(intake: Intake) -> None:
    # given
    proposal_id = await intake.submitted()
    # when
    with pytest.raises(MoveRefused) as refused:
        await intake.service.revise(revise(proposal_id, title="v2"))
    # then
    assert refused.value.current == Status.SUBMITTED
    assert refused.value.allowed == ["verified", "verification_failed", "revision_requested", "withdrawn"]
    assert str(refused.value) == (
        "cannot move to 'submitted': proposal is 'submitted'; "
        "allowed moves: verified, verification_failed, revision_requested, withdrawn"
    )
    assert intake.outbox == [(PROPOSAL_SUBMITTED, 1)]


async def test_a_requested_revision_is_the_proposals_next_intake_event(intake: Intake) -> None:
    # given
    proposal_id = await intake.revision_requested()
    # when
    accepted = await intake.service.revise(revise(proposal_id, title="Lapor Cepat Babar (revisi)"))
    # then
    assert accepted.body == {
        "proposal_id": str(proposal_id),
        "status": "submitted",
        "revised_at": NOW.isoformat(),
    }
    assert intake.outbox == [(PROPOSAL_SUBMITTED, 1), (PROPOSAL_REVISED, 2)]
    revised = intake.repository.tables.outbox[-1]
    assert revised.data["title"] == "Lapor Cepat Babar (revisi)"
    assert (revised.metadata.correlation_id, revised.metadata.actor) == ("c-revise", PORTAL.as_actor())
    stored = intake.repository.tables.proposals[proposal_id]
    assert (stored.status, stored.status_detail, stored.body["title"]) == (
        Status.SUBMITTED,
        None,
        "Lapor Cepat Babar (revisi)",
    )


async def test_a_revision_is_checked_like_a_new_submission_and_keeps_its_round() -> None:
    # given: a second round open on the same days, to which the revision would move the proposal
    shipped = shipped_rounds().rounds[2023]
    rounds = RoundBook(
        {2023: shipped, 2024: RoundRules.model_validate({**shipped.model_dump(), "round": 2024})}
    )
    intake = Intake(rounds)
    proposal_id = await intake.revision_requested()
    # when, then
    with pytest.raises(RulesBroken) as broken:
        await intake.service.revise(revise(proposal_id, sdgs=[]))
    assert [v.rule for v in broken.value.violations] == ["min_items"]
    with pytest.raises(RulesBroken) as moved:
        await intake.service.revise(revise(proposal_id, round=2024))
    assert [(v.field, v.rule) for v in moved.value.violations] == [("round", "same_round")]
    assert intake.status(proposal_id) == Status.REVISION_REQUESTED
    assert intake.outbox == [(PROPOSAL_SUBMITTED, 1)]


async def test_another_submitters_proposal_is_not_found(intake: Intake) -> None:
    # given
    proposal_id = await intake.revision_requested(by=PORTAL)
    # when, then
    with pytest.raises(ProposalNotFound, match=f"no proposal {proposal_id} of yours"):
        await intake.service.revise(revise(proposal_id, by=PDAM))
    with pytest.raises(ProposalNotFound):
        await intake.service.withdraw(withdraw(proposal_id, by=PDAM))
    with pytest.raises(ProposalNotFound):
        await intake.service.withdraw(withdraw(uuid.uuid4()))
    assert intake.status(proposal_id) == Status.REVISION_REQUESTED


async def test_a_withdrawal_follows_the_revision_and_nothing_follows_it(intake: Intake) -> None:
    # given
    proposal_id = await intake.revision_requested()
    await intake.service.revise(revise(proposal_id, title="v2"))
    # when
    accepted = await intake.service.withdraw(withdraw(proposal_id))
    # then
    assert accepted.body == {
        "proposal_id": str(proposal_id),
        "status": "withdrawn",
        "withdrawn_at": NOW.isoformat(),
    }
    assert intake.outbox == [(PROPOSAL_SUBMITTED, 1), (PROPOSAL_REVISED, 2), (PROPOSAL_WITHDRAWN, 3)]
    assert intake.repository.tables.outbox[-1].data == {"reason": "digabung dengan inovasi lain"}
    with pytest.raises(MoveRefused) as twice:
        await intake.service.withdraw(withdraw(proposal_id))
    assert (twice.value.current, twice.value.allowed) == (Status.WITHDRAWN, [])
    assert str(twice.value).endswith("allowed moves: none (final status)")


async def test_once_withdrawn_nothing_follows_whatever_review_says_later(intake: Intake) -> None:
    # given: review asked for a revision before it recorded the withdrawal, and says so late
    proposal_id = await intake.submitted()
    await intake.service.withdraw(withdraw(proposal_id))
    await intake.review_says(proposal_id, Status.REVISION_REQUESTED, 2)
    # when
    with pytest.raises(MoveRefused) as refused:
        await intake.service.revise(revise(proposal_id))
    # then
    assert refused.value.current == Status.WITHDRAWN
    assert intake.outbox == [(PROPOSAL_SUBMITTED, 1), (PROPOSAL_WITHDRAWN, 2)]


async def test_a_proposal_past_validation_cannot_be_withdrawn(intake: Intake) -> None:
    # given
    proposal_id = await intake.submitted()
    await intake.review_says(proposal_id, Status.REGISTERED, 4)
    # when
    with pytest.raises(MoveRefused) as refused:
        await intake.service.withdraw(withdraw(proposal_id))
    # then
    assert (refused.value.current, refused.value.allowed) == (Status.REGISTERED, ["top99", "not_selected"])
    assert intake.status(proposal_id) == Status.REGISTERED


async def test_the_same_key_and_request_answer_the_first_answer_and_create_nothing(intake: Intake) -> None:
    # given
    once = Idempotency("portal-2023-0001", b"POST /v1/proposals + body")
    first = await intake.service.submit(submit(), once)
    # when
    again = await intake.service.submit(submit(), once)
    # then
    assert again == first
    assert len(intake.repository.tables.proposals) == 1
    assert intake.outbox == [(PROPOSAL_SUBMITTED, 1)]
    assert intake.relay_woken == 1


async def test_the_same_key_with_another_request_is_refused(intake: Intake) -> None:
    # given
    await intake.service.submit(submit(), Idempotency("portal-2023-0002", b"request one"))
    # when
    with pytest.raises(IdempotencyKeyReused):
        await intake.service.submit(submit(title="Another"), Idempotency("portal-2023-0002", b"request two"))
    # then
    assert len(intake.repository.tables.proposals) == 1


async def test_keys_are_per_submitter(intake: Intake) -> None:
    once = Idempotency("shared-name", b"the same request")
    mine = await intake.service.submit(submit(by=PORTAL), once)
    theirs = await intake.service.submit(submit(by=PDAM), once)
    assert theirs.proposal_id != mine.proposal_id


async def test_a_refused_request_does_not_use_up_its_key(intake: Intake) -> None:
    # given: a revision sent before review asked for one, refused
    proposal_id = await intake.submitted()
    once = Idempotency("revision-1", b"PUT + v2")
    with pytest.raises(MoveRefused):
        await intake.service.revise(revise(proposal_id, title="v2"), once)
    await intake.review_says(proposal_id, Status.REVISION_REQUESTED, 2)
    # when: sent again with its key, now that review asked
    accepted = await intake.service.revise(revise(proposal_id, title="v2"), once)
    replayed = await intake.service.revise(revise(proposal_id, title="v2"), once)
    # then
    assert replayed == accepted == Accepted(accepted.body)
    assert intake.outbox == [(PROPOSAL_SUBMITTED, 1), (PROPOSAL_REVISED, 2)]


async def test_a_status_change_applies_only_when_it_is_newer_than_what_intake_knows(intake: Intake) -> None:
    # given
    proposal_id = await intake.submitted()
    verified = ApplyStatusChange(proposal_id, Status.VERIFIED, 2, {"notes": "lengkap"}, NOW)
    # when, then
    assert await intake.service.apply_status_change(verified)
    assert not await intake.service.apply_status_change(verified)  # repeated
    late = ApplyStatusChange(proposal_id, Status.SUBMITTED, 1, {}, NOW)
    assert not await intake.service.apply_status_change(late)  # older
    stored = intake.repository.tables.proposals[proposal_id]
    assert (stored.status, stored.review_version, stored.status_detail) == (
        Status.VERIFIED,
        2,
        {"notes": "lengkap"},
    )
