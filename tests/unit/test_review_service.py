"""Review's use cases on the in-memory event store: no database, no broker."""

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from services.review.application import EarlierEventMissing, ReviewService, StaleVersion, UnprocessableMessage
from services.review.consumer import intake_command
from services.review.domain.commands import RequestRevision, VerifyProposal
from services.review.domain.decider import ProposalNotFound
from services.review.eventstore.base import ConcurrencyError, RecordedEvent
from services.review.eventstore.memory import InMemoryEventStore
from services.review.status_publisher import status_changed
from shared.contract import PROPOSAL_REVISED, PROPOSAL_SUBMITTED, PROPOSAL_WITHDRAWN, Envelope, new_envelope
from shared.lifecycle import CheckOutcome
from tests.fixtures import REVIEWER_ACTOR, SUBMITTER, a_proposal, encrypted

NOW = datetime(2023, 4, 10, 8, tzinfo=UTC)
REVIEWER = {"actor": REVIEWER_ACTOR, "correlation_id": "c-1", "source": "test"}


def intake_event(
    event_type: str, proposal_id: uuid.UUID, data: dict[str, Any], sequence: int | None = None
) -> Envelope:
    """An intake event as intake numbers them (the submission first, then the next one), its innovator's
    fields encrypted as intake sends them."""
    return encrypted(
        new_envelope(
            event_type,
            proposal_id,
            NOW,
            data,
            actor=SUBMITTER,
            source="test",
            correlation_id="c-0",
            sequence=sequence or (1 if event_type == PROPOSAL_SUBMITTED else 2),
        )
    )


@pytest.fixture
def service() -> ReviewService:
    return ReviewService(InMemoryEventStore(), clock=lambda: NOW)


async def test_records_an_intake_event_under_its_own_id_once(service: ReviewService) -> None:
    envelope = intake_event(PROPOSAL_SUBMITTED, uuid.uuid4(), a_proposal())
    first = await service.record_intake_event(intake_command(envelope))
    again = await service.record_intake_event(intake_command(envelope))
    assert (first.recorded, again.recorded) == (True, False)
    [event] = await service.store.read_stream(envelope.proposal_id)
    assert event.event_id == envelope.event_id
    assert event.metadata["actor"] == SUBMITTER.model_dump(mode="json")


async def test_a_second_submission_for_a_proposal_is_refused_not_retried(service: ReviewService) -> None:
    # Submissions are appended without reading the stream first; one that meets an existing stream under
    # another event id claims to be intake's first event of the proposal a second time: dead-lettered at
    # once, not a conflict to retry.
    proposal_id = uuid.uuid4()
    await service.record_intake_event(
        intake_command(intake_event(PROPOSAL_SUBMITTED, proposal_id, a_proposal()))
    )
    with pytest.raises(UnprocessableMessage, match="already recorded"):
        await service.record_intake_event(
            intake_command(intake_event(PROPOSAL_SUBMITTED, proposal_id, a_proposal()))
        )
    assert len(await service.store.read_stream(proposal_id)) == 1


@pytest.mark.parametrize(
    ("event_type", "data", "reason"),
    [
        ("proposal.renamed", {}, "unknown event type"),
        (PROPOSAL_SUBMITTED, {"title": "only"}, "not a valid proposal"),
        (PROPOSAL_SUBMITTED, a_proposal(round=1999), "round 1999 is not open"),
        (PROPOSAL_WITHDRAWN, {}, "data.reason"),
    ],
)
async def test_refuses_what_no_retry_can_fix(
    service: ReviewService, event_type: str, data: dict[str, Any], reason: str
) -> None:
    with pytest.raises(UnprocessableMessage, match=reason):
        await service.record_intake_event(intake_command(intake_event(event_type, uuid.uuid4(), data)))


async def test_a_revision_before_its_submission_waits_for_it(service: ReviewService) -> None:
    # Intake's second event of a proposal whose first has not been recorded: retried later, not refused.
    with pytest.raises(EarlierEventMissing, match="came before event 1"):
        await service.record_intake_event(
            intake_command(intake_event(PROPOSAL_REVISED, uuid.uuid4(), a_proposal()))
        )


async def test_a_decision_on_a_stale_version_is_refused(service: ReviewService) -> None:
    proposal_id = uuid.uuid4()
    await service.record_intake_event(
        intake_command(intake_event(PROPOSAL_SUBMITTED, proposal_id, a_proposal()))
    )
    with pytest.raises(StaleVersion) as stale:
        await service.decide(
            proposal_id, lambda at: VerifyProposal(at=at, outcome=CheckOutcome.PASSED), REVIEWER, if_match=3
        )
    assert (stale.value.expected, stale.value.actual) == (3, 1)
    result = await service.decide(
        proposal_id, lambda at: VerifyProposal(at=at, outcome=CheckOutcome.PASSED), REVIEWER, if_match=1
    )
    assert result.stream_version == 2


class InterleavingStore(InMemoryEventStore):
    """Lets another reviewer decide between one reviewer's read and append."""

    between: Callable[[], Awaitable[Any]] | None = None

    async def read_stream(self, stream_id: uuid.UUID, until: datetime | None = None) -> list[RecordedEvent]:
        events = await super().read_stream(stream_id, until)
        if self.between is not None:
            step, self.between = self.between, None
            await step()
        return events


async def test_a_decision_made_on_a_version_that_moved_on_is_refused_not_applied() -> None:
    store = InterleavingStore()
    service = ReviewService(store, clock=lambda: NOW)
    proposal_id = uuid.uuid4()
    await service.record_intake_event(
        intake_command(intake_event(PROPOSAL_SUBMITTED, proposal_id, a_proposal()))
    )
    budi = {**REVIEWER, "actor": {**REVIEWER_ACTOR, "name": "Budi"}}
    store.between = lambda: service.decide(
        proposal_id, lambda at: VerifyProposal(at=at, outcome=CheckOutcome.FAILED), budi
    )
    with pytest.raises(ConcurrencyError):
        await service.decide(
            proposal_id, lambda at: VerifyProposal(at=at, outcome=CheckOutcome.PASSED), REVIEWER
        )
    events = await store.read_stream(proposal_id)
    assert [(e.type, e.metadata["actor"]["name"]) for e in events[1:]] == [("VerificationFailed", "Budi")]


async def test_announces_each_status_change_with_what_the_submitter_needs(service: ReviewService) -> None:
    proposal_id = uuid.uuid4()
    await service.record_intake_event(
        intake_command(intake_event(PROPOSAL_SUBMITTED, proposal_id, a_proposal()))
    )
    await service.decide(
        proposal_id, lambda at: RequestRevision(at=at, reasons=("tambahkan data",), notes="n"), REVIEWER
    )
    submitted, asked = await service.store.read_stream(proposal_id)
    first, second = status_changed(submitted), status_changed(asked)
    assert first.data["status"] == "submitted"
    assert second.data | {"decided_at": None} == {
        "status": "revision_requested",
        "version": 2,
        "position": 2,
        "cause": "RevisionRequested",
        "decided_at": None,
        "reasons": ["tambahkan data"],
        "notes": "n",
    }
    assert second.metadata.causation_id == str(asked.event_id)
    assert second.metadata.correlation_id == "c-1"
    assert status_changed(asked).event_id == second.event_id  # announced again, recognisably the same


async def test_a_decision_on_an_unknown_proposal_is_not_found_even_with_if_match(
    service: ReviewService,
) -> None:
    with pytest.raises(ProposalNotFound):
        await service.decide(
            uuid.uuid4(), lambda at: VerifyProposal(at=at, outcome=CheckOutcome.PASSED), REVIEWER, if_match=1
        )


async def test_intake_events_are_recorded_in_intake_order_whatever_order_they_arrive_in(
    service: ReviewService,
) -> None:
    proposal_id = uuid.uuid4()

    def numbered(event_type: str, data: dict[str, Any], sequence: int) -> Envelope:
        envelope = intake_event(event_type, proposal_id, data)
        return envelope.model_copy(
            update={"metadata": envelope.metadata.model_copy(update={"sequence": sequence})}
        )

    await service.record_intake_event(intake_command(numbered(PROPOSAL_SUBMITTED, a_proposal(), 1)))
    await service.decide(proposal_id, lambda at: RequestRevision(at=at, reasons=("r",)), REVIEWER)
    revised = numbered(PROPOSAL_REVISED, a_proposal(title="v2"), 2)
    withdrawn = numbered(PROPOSAL_WITHDRAWN, {"reason": "digabung"}, 3)
    with pytest.raises(EarlierEventMissing):
        await service.record_intake_event(
            intake_command(withdrawn)
        )  # delivered first: it waits for the revision
    await service.record_intake_event(intake_command(revised))
    await service.record_intake_event(intake_command(withdrawn))
    types = [event.type for event in await service.store.read_stream(proposal_id)]
    assert types == ["ProposalSubmitted", "RevisionRequested", "ProposalRevised", "ProposalWithdrawn"]
    with pytest.raises(UnprocessableMessage, match="already recorded"):
        await service.record_intake_event(
            intake_command(numbered(PROPOSAL_WITHDRAWN, {"reason": "again"}, 3))
        )


async def test_an_event_that_occurred_before_the_round_closed_is_recorded_when_processed_after_it() -> None:
    # The shipped 2023 round closed at the end of 2023-05-06 in WIB; whenever review gets to the event (after
    # a broker outage, today), what counts is the day intake took the proposal.
    service = ReviewService(InMemoryEventStore(), clock=lambda: datetime(2026, 11, 30, tzinfo=UTC))
    just_in_time = intake_event(PROPOSAL_SUBMITTED, uuid.uuid4(), a_proposal()).model_copy(
        update={"occurred_at": datetime.fromisoformat("2023-05-06T23:00:00+07:00")}
    )
    assert (await service.record_intake_event(intake_command(just_in_time))).recorded
    too_late = intake_event(PROPOSAL_SUBMITTED, uuid.uuid4(), a_proposal()).model_copy(
        update={"occurred_at": datetime.fromisoformat("2023-05-06T17:00:00+00:00")}  # 00:00 on 7 May in WIB
    )
    with pytest.raises(
        UnprocessableMessage, match="round 2023 takes proposals from 2023-01-01 to 2023-05-06"
    ):
        await service.record_intake_event(intake_command(too_late))
    naive = intake_event(PROPOSAL_SUBMITTED, uuid.uuid4(), a_proposal()).model_copy(
        update={"occurred_at": datetime(2023, 4, 10, 8)}
    )
    with pytest.raises(UnprocessableMessage, match="occurred_at"):
        await service.record_intake_event(intake_command(naive))
