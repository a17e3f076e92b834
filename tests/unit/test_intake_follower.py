"""What intake's follower does with a message from review, on an in-memory repository: no broker, no
database. Given what intake holds, when a message arrives, then it is applied, given up on (dead-lettered
with a reason) or retried."""

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.intake.application import IntakeService, SubmitProposal
from services.intake.follower import Applied, GiveUp, Retry, follow
from shared.access import Actor, Caller, Role
from shared.contract import PROPOSAL_STATUS_CHANGED, PROPOSAL_SUBMITTED, new_envelope
from shared.lifecycle import Status
from shared.observability import correlated, correlation_id
from shared.proposal import ProposalBody
from shared.rounds import shipped_rounds
from shared.signing import MessageSigner, MessageVerifier
from tests.fixtures import REVIEWER_ACTOR, SUBMITTER, a_proposal
from tests.unit.fakes import FakeIntakeRepository

NOW = datetime(2023, 4, 10, 8, tzinfo=UTC)
REVIEW = MessageSigner(Ed25519PrivateKey.generate())
REVIEW_SIGNATURE = MessageVerifier("review", {REVIEW.key_id: REVIEW.key.public_key()})
PORTAL = Caller(uuid.uuid4(), SUBMITTER.id, Role.SUBMITTER, SUBMITTER.name)


@pytest.fixture
def repository() -> FakeIntakeRepository:
    return FakeIntakeRepository()


@pytest.fixture
def service(repository: FakeIntakeRepository) -> IntakeService:
    return IntakeService(repository, shipped_rounds())


async def a_submitted_proposal(service: IntakeService) -> uuid.UUID:
    posted = a_proposal()
    command = SubmitProposal(PORTAL, ProposalBody.model_validate(posted), posted, NOW, "c-0")
    return (await service.submit(command)).proposal_id


def status_changed(
    proposal_id: uuid.UUID, version: int, status: str = "revision_requested", **data: Any
) -> bytes:
    """A status change as review publishes it: the status at a version and the decision's details."""
    details = data or {"reasons": ["lampirkan SK"], "notes": "lihat catatan"}
    envelope = new_envelope(
        PROPOSAL_STATUS_CHANGED,
        proposal_id,
        NOW,
        {
            "status": status,
            "version": version,
            "position": 40 + version,
            "cause": "RevisionRequested",
            "decided_at": "2023-04-10T08:00:00.000000Z",
        }
        | details,
        actor=Actor.model_validate(REVIEWER_ACTOR),
        source="review",
        correlation_id="c-review-7",
    )
    return envelope.model_dump_json().encode()


async def test_a_status_change_signed_by_review_is_shown_with_the_decisions_details(
    service: IntakeService, repository: FakeIntakeRepository
) -> None:
    # given
    proposal_id = await a_submitted_proposal(service)
    body = status_changed(proposal_id, 2)
    # when
    with correlated(None):
        outcome = await follow(body, REVIEW.headers(body), service, REVIEW_SIGNATURE)
        followed_as = correlation_id.get()
    # then
    assert isinstance(outcome, Applied)
    assert (outcome.outcome, outcome.command.at) == ("applied", NOW)
    assert followed_as == "c-review-7"  # what it logs carries the decision's correlation id
    stored = repository.tables.proposals[proposal_id]
    assert (stored.status, stored.review_version) == (Status.REVISION_REQUESTED, 2)
    assert stored.status_detail == {
        "cause": "RevisionRequested",
        "decided_at": "2023-04-10T08:00:00.000000Z",
        "reasons": ["lampirkan SK"],
        "notes": "lihat catatan",
    }


async def test_a_repeated_or_late_status_change_changes_nothing(
    service: IntakeService, repository: FakeIntakeRepository
) -> None:
    # given: review's version 3 is known
    proposal_id = await a_submitted_proposal(service)
    newer = status_changed(proposal_id, 3, "verified", notes="lengkap")
    assert isinstance(await follow(newer, REVIEW.headers(newer), service, REVIEW_SIGNATURE), Applied)
    # when: version 3 again, and version 2 late
    outcomes = []
    for body in (newer, status_changed(proposal_id, 2)):
        outcome = await follow(body, REVIEW.headers(body), service, REVIEW_SIGNATURE)
        assert isinstance(outcome, Applied)
        outcomes.append(outcome.outcome)
    # then
    assert outcomes == ["already_known", "already_known"]
    stored = repository.tables.proposals[proposal_id]
    assert (stored.status, stored.review_version) == (Status.VERIFIED, 3)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "unsigned"),
        (MessageSigner(Ed25519PrivateKey.generate()).headers(b"{}"), "which is not review's"),
    ],
)
async def test_a_message_not_signed_by_review_is_given_up_on(
    service: IntakeService, repository: FakeIntakeRepository, headers: dict[str, Any], reason: str
) -> None:
    # given
    proposal_id = await a_submitted_proposal(service)
    # when
    outcome = await follow(status_changed(proposal_id, 2), headers, service, REVIEW_SIGNATURE)
    # then
    assert isinstance(outcome, GiveUp)
    assert reason in outcome.reason
    assert repository.tables.proposals[proposal_id].status == Status.SUBMITTED


def signed_envelope(event_type: str, data: dict[str, Any]) -> bytes:
    envelope = new_envelope(
        event_type, uuid.uuid4(), NOW, data, actor=SUBMITTER, source="review", correlation_id="c"
    )
    return envelope.model_dump_json().encode()


@pytest.mark.parametrize(
    "body",
    [
        b"this is not json",
        b'{"event_id": "not even an envelope"}',
        signed_envelope(PROPOSAL_SUBMITTED, a_proposal()),
        signed_envelope(
            PROPOSAL_STATUS_CHANGED, {"status": "approved", "version": 2, "position": 9, "cause": "x"}
        ),
        signed_envelope(
            PROPOSAL_STATUS_CHANGED, {"status": "verified", "version": 0, "position": 9, "cause": "x"}
        ),
    ],
)
async def test_what_is_not_a_status_change_is_given_up_on(service: IntakeService, body: bytes) -> None:
    # when
    outcome = await follow(body, REVIEW.headers(body), service, REVIEW_SIGNATURE)
    # then
    assert isinstance(outcome, GiveUp)
    assert outcome.reason.startswith("not a status change: ")


async def test_a_value_intakes_tables_cannot_hold_is_given_up_on_not_retried(
    service: IntakeService, repository: FakeIntakeRepository
) -> None:
    # given
    proposal_id = await a_submitted_proposal(service)
    repository.failure = asyncpg.DataError("unsupported Unicode escape sequence")
    body = status_changed(proposal_id, 2)
    # when
    outcome = await follow(body, REVIEW.headers(body), service, REVIEW_SIGNATURE)
    # then
    assert outcome == GiveUp("unstorable: unsupported Unicode escape sequence")


async def test_while_the_database_is_away_the_message_is_kept_for_later(
    service: IntakeService, repository: FakeIntakeRepository
) -> None:
    # given
    proposal_id = await a_submitted_proposal(service)
    repository.failure = ConnectionRefusedError("connection refused")
    body = status_changed(proposal_id, 2)
    # when
    outcome = await follow(body, REVIEW.headers(body), service, REVIEW_SIGNATURE)
    # then
    assert isinstance(outcome, Retry)
    assert isinstance(outcome.error, ConnectionRefusedError)
    repository.failure = None
    assert isinstance(await follow(body, REVIEW.headers(body), service, REVIEW_SIGNATURE), Applied)
