"""Intake's events as commands of review: what the consumer translates a verified envelope into, and what
the service checks of a command before it records it. No database, no broker."""

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from services.review.application import (
    IntakeCommand,
    RecordRevision,
    RecordSubmission,
    RecordWithdrawal,
    ReviewService,
    UnprocessableMessage,
)
from services.review.consumer import intake_command
from services.review.eventstore.memory import InMemoryEventStore
from shared.access import Actor, Role
from shared.contract import (
    PROPOSAL_REVISED,
    PROPOSAL_SUBMITTED,
    PROPOSAL_WITHDRAWN,
    EnvelopeMetadata,
    new_envelope,
)
from shared.personal_data.fields import encrypt_proposal
from shared.proposal import EncryptedProposal
from tests.fixtures import SUBMITTER, TESTS_OWN_PERSON, a_proposal, encrypted

NOW = datetime(2023, 4, 10, 8, tzinfo=UTC)


def metadata(sequence: int | None = 1, actor: Actor = SUBMITTER) -> EnvelopeMetadata:
    return EnvelopeMetadata(correlation_id="c-9", actor=actor, source="intake-api", sequence=sequence)


def a_submission(sequence: int | None = 1, actor: Actor = SUBMITTER) -> RecordSubmission:
    event_id = uuid.uuid4()
    data = encrypt_proposal(a_proposal(), event_id, TESTS_OWN_PERSON)
    return RecordSubmission(
        event_id, uuid.uuid4(), NOW, metadata(sequence, actor), EncryptedProposal.model_validate(data), data
    )


@pytest.mark.parametrize(
    ("event_type", "data", "kind"),
    [
        (PROPOSAL_SUBMITTED, a_proposal(), RecordSubmission),
        (PROPOSAL_REVISED, a_proposal(title="v2"), RecordRevision),
        (PROPOSAL_WITHDRAWN, {"reason": "digabung"}, RecordWithdrawal),
    ],
)
def test_each_intake_event_becomes_the_command_of_its_type_with_intakes_metadata(
    event_type: str, data: dict[str, Any], kind: type[IntakeCommand]
) -> None:
    # given
    envelope = encrypted(
        new_envelope(
            event_type,
            uuid.uuid4(),
            NOW,
            data,
            actor=SUBMITTER,
            source="intake-api",
            correlation_id="c",
            sequence=2,
        )
    )
    # when
    command = intake_command(envelope)
    # then
    assert type(command) is kind
    assert (command.event_id, command.proposal_id, command.occurred_at) == (
        envelope.event_id,
        envelope.proposal_id,
        NOW,
    )
    assert (command.sequence, command.metadata.actor) == (2, SUBMITTER)
    if isinstance(command, RecordWithdrawal):
        assert command.reason == "digabung"
    else:
        assert command.data is envelope.data  # recorded exactly as intake published it
        assert command.proposal.title == data["title"]


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        (a_submission(sequence=None), "no sequence"),
        (
            a_submission(actor=Actor(id=uuid.uuid4(), name="Rina", role=Role.REVIEWER)),
            "proposal.submitted by a reviewer: only a submitter may send it",
        ),
    ],
)
async def test_an_intake_event_that_does_not_say_what_intake_says_is_refused(
    command: IntakeCommand, reason: str
) -> None:
    # given
    service = ReviewService(InMemoryEventStore(), clock=lambda: NOW)
    # when, then
    with pytest.raises(UnprocessableMessage, match=reason):
        await service.record_intake_event(command)
    assert await service.store.read_stream(command.proposal_id) == []


async def test_a_recorded_intake_event_keeps_intakes_metadata_and_when_it_occurred() -> None:
    # given
    service = ReviewService(InMemoryEventStore(), clock=lambda: NOW)
    command = a_submission()
    # when
    result = await service.record_intake_event(command)
    # then
    assert (result.recorded, result.stream_version) == (True, 1)
    [event] = await service.store.read_stream(command.proposal_id)
    assert (event.event_id, event.type, event.data["proposal"]) == (
        command.event_id,
        "ProposalSubmitted",
        command.data,
    )
    assert event.metadata == {
        "correlation_id": "c-9",
        "causation_id": None,
        "actor": SUBMITTER.model_dump(mode="json"),
        "source": "intake-api",
        "sequence": 1,
        "occurred_at": NOW.isoformat(),
    }
