"""Messages read as the contract types them: one message model per event type, the envelope as sent kept."""

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from services.review.eventstore.base import RecordedEvent
from services.review.status_publisher import status_changed
from shared.contract import (
    FROM_INTAKE,
    MESSAGES,
    PROPOSAL_STATUS_CHANGED,
    PROPOSAL_SUBMITTED,
    PROPOSAL_WITHDRAWN,
    Envelope,
    ProposalStatusChangedMessage,
    ProposalSubmittedMessage,
    ProposalWithdrawnMessage,
    UnreadableMessage,
    new_envelope,
    read_message,
)
from shared.lifecycle import Status
from tests.fixtures import REVIEWER_ACTOR, SUBMITTER, a_proposal, encrypted


def an_intake_event(event_type: str, data: dict[str, Any]) -> Envelope:
    return encrypted(
        new_envelope(
            event_type,
            uuid.uuid4(),
            datetime.now(UTC),
            data,
            actor=SUBMITTER,
            source="intake-api",
            correlation_id="c-1",
            sequence=1,
        )
    )


def test_a_proposal_whose_innovator_is_in_plain_text_is_not_a_message_of_the_contract() -> None:
    plain = an_intake_event(PROPOSAL_SUBMITTED, {}).model_copy(update={"data": a_proposal()})
    with pytest.raises(UnreadableMessage, match=r"not a valid proposal(.|\n)*innovator\.email"):
        read_message(plain.model_dump_json().encode(), *FROM_INTAKE)


def test_every_event_type_of_the_contract_has_its_message_model() -> None:
    assert set(MESSAGES) == {
        "proposal.submitted",
        "proposal.revised",
        "proposal.withdrawn",
        "proposal.status_changed",
    }
    assert all(kind.event_type_name() == name for name, kind in MESSAGES.items())


def test_a_submission_is_read_typed_and_its_data_is_kept_exactly_as_sent() -> None:
    # Text with spaces around it: the typed proposal is trimmed for checking; what is stored is not.
    posted = a_proposal(title="  Lapor Cepat  ")
    sent = an_intake_event(PROPOSAL_SUBMITTED, posted)
    body = sent.model_dump_json().encode()
    received = read_message(body, *FROM_INTAKE)
    assert isinstance(received.message, ProposalSubmittedMessage)
    assert received.message.data.title == "Lapor Cepat"
    assert received.message.metadata.actor == SUBMITTER
    assert received.envelope.data == sent.data
    assert received.envelope.model_dump_json().encode() == body  # the wire format is unchanged


def test_a_withdrawal_is_read_typed() -> None:
    body = an_intake_event(PROPOSAL_WITHDRAWN, {"reason": "digabung"}).model_dump_json().encode()
    received = read_message(body, *FROM_INTAKE)
    assert isinstance(received.message, ProposalWithdrawnMessage)
    assert received.message.data.reason == "digabung"


def test_a_status_change_as_review_publishes_it_is_read_with_its_details() -> None:
    at = datetime(2023, 4, 10, 8, tzinfo=UTC)
    event = RecordedEvent(
        position=5,
        stream_id=uuid.uuid4(),
        version=2,
        event_id=uuid.uuid4(),
        type="RevisionRequested",
        schema_version=1,
        data={"at": at.isoformat(), "reasons": ["SK belum ditandatangani"], "notes": "lengkapi"},
        metadata={"actor": REVIEWER_ACTOR, "correlation_id": "c-2"},
        recorded_at=at,
        hash=b"",
    )
    body = status_changed(event).model_dump_json().encode()
    received = read_message(body, ProposalStatusChangedMessage)
    change = received.message.data
    assert (change.status, change.version) == (Status.REVISION_REQUESTED, 2)
    assert change.cause == "RevisionRequested"
    assert (change.reasons, change.notes, change.decided_at) == (["SK belum ditandatangani"], "lengkapi", at)
    assert change.stage is None
    assert received.envelope.data["reasons"] == ["SK belum ditandatangani"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"this is not json", "Invalid JSON"),
        (b'{"event_id": "not even an envelope"}', "validation errors for Envelope"),
        (
            an_intake_event("proposal.renamed", {}).model_dump_json().encode(),
            "unknown event type 'proposal.renamed'",
        ),
        (
            an_intake_event(PROPOSAL_STATUS_CHANGED, {}).model_dump_json().encode(),
            "'proposal.status_changed' is not proposal.submitted, proposal.revised or proposal.withdrawn",
        ),
        (
            an_intake_event(PROPOSAL_SUBMITTED, {"title": "only"}).model_dump_json().encode(),
            "data is not a valid proposal: ",
        ),
        (
            an_intake_event(PROPOSAL_WITHDRAWN, {"reason": 7}).model_dump_json().encode(),
            "proposal.withdrawn needs data.reason, a string",
        ),
    ],
)
def test_what_is_not_a_message_of_the_contract_is_refused_with_the_reason(body: bytes, reason: str) -> None:
    with pytest.raises(UnreadableMessage, match=reason):
        read_message(body, *FROM_INTAKE)


def test_a_status_change_with_a_version_no_table_holds_is_refused() -> None:
    change = {"status": "winner", "version": 2**40, "position": 1, "cause": "SelectionRecorded"}
    envelope = an_intake_event(PROPOSAL_STATUS_CHANGED, {**change, "decided_at": "2023-04-10T08:00:00Z"})
    with pytest.raises(UnreadableMessage, match=r"data is not a status change: (.|\n)*\nversion\n"):
        read_message(envelope.model_dump_json().encode(), ProposalStatusChangedMessage)
    not_a_change = re.escape("'proposal.submitted' is not proposal.status_changed")
    with pytest.raises(UnreadableMessage, match=not_a_change):
        read_message(
            an_intake_event(PROPOSAL_SUBMITTED, a_proposal()).model_dump_json().encode(),
            ProposalStatusChangedMessage,
        )
