"""Consumes intake's events from the broker into the event store.

A message is acknowledged only after its event has committed (or was already recorded). What happens
otherwise depends on why it failed:
- it can never be processed (not signed by intake, not JSON, not the envelope, unknown type, no sequence,
  an actor who is not a submitter, invalid proposal, content the store cannot hold): it is published to
  the dead-letter exchange with the reason in a header, then acknowledged, and the consumer goes on;
- it arrived before an event intake published earlier for the proposal: tried again after a growing
  delay until that one is recorded (dead-lettered only after PATIENCE, counted from when the event
  happened);
- the lifecycle refuses it: tried again a few times, then dead-lettered (MAX_REFUSALS attempts);
- anything else (database away, connection lost): tried again after a delay, never dropped.
A message tried again later waits on the broker, not in the consumer (shared/redelivery.py).
"""

import logging
from datetime import UTC, datetime, timedelta

import asyncpg
from faststream import AckPolicy
from faststream.rabbit import Channel, RabbitBroker
from faststream.rabbit.message import RabbitMessage as RabbitMessageType
from pydantic import ValidationError

from services.review.application import (
    EarlierEventMissing,
    IntakeCommand,
    RecordRevision,
    RecordSubmission,
    RecordWithdrawal,
    ReviewService,
    UnprocessableMessage,
)
from services.review.domain.decider import ProposalNotFound, TransitionRefused
from services.review.eventstore.base import ConcurrencyError, UnstorableEvent
from services.review.metrics import INTAKE_MESSAGES
from shared.broker import IntakeEventDelivery, delivery_itself, exchange, intake_events_queue
from shared.contract import (
    FROM_INTAKE,
    PROPOSAL_REVISED,
    PROPOSAL_SUBMITTED,
    PROPOSAL_WITHDRAWN,
    Envelope,
    ProposalRevisedMessage,
    ProposalSubmittedMessage,
    Topology,
    UnreadableMessage,
    read_message,
)
from shared.observability import correlated, correlation_id
from shared.proposal import EncryptedProposal
from shared.redelivery import attempt, dead_letter, retry_later
from shared.signing import BadSignature, MessageVerifier

log = logging.getLogger(__name__)

MAX_REFUSALS = 10
PATIENCE = timedelta(days=1)


def intake_command(envelope: Envelope, parsed: EncryptedProposal | None = None) -> IntakeCommand:
    """The command one of intake's events asks of review (the envelope's signature already checked);
    UnprocessableMessage for an envelope that is none of them. `parsed`: the proposal as the message was
    read already (`read_message`), so it is not validated a second time."""
    ids = (envelope.event_id, envelope.proposal_id, envelope.occurred_at, envelope.metadata)
    if envelope.event_type in (PROPOSAL_SUBMITTED, PROPOSAL_REVISED):
        try:
            proposal = parsed or EncryptedProposal.model_validate(envelope.data)
        except ValidationError as error:
            raise UnprocessableMessage(f"data is not a valid proposal: {error}") from error
        if envelope.event_type == PROPOSAL_SUBMITTED:
            return RecordSubmission(*ids, proposal=proposal, data=envelope.data)
        return RecordRevision(*ids, proposal=proposal, data=envelope.data)
    if envelope.event_type == PROPOSAL_WITHDRAWN:
        reason = envelope.data.get("reason")
        if not isinstance(reason, str):
            raise UnprocessableMessage("proposal.withdrawn needs data.reason, a string")
        return RecordWithdrawal(*ids, reason=reason)
    raise UnprocessableMessage(f"unknown event type {envelope.event_type!r}")


def attach_consumer(
    broker: RabbitBroker,
    topology: Topology,
    service: ReviewService,
    concurrency: int,
    intake_signature: MessageVerifier,
) -> None:
    @broker.subscriber(
        intake_events_queue(topology),
        exchange(topology.intake_exchange),
        ack_policy=AckPolicy.MANUAL,
        decoder=delivery_itself,
        channel=Channel(prefetch_count=concurrency),
    )
    async def record_intake_event(message: IntakeEventDelivery) -> None:
        with correlated(message.raw_message.correlation_id):
            await handle_delivery(bytes(message.body), message, service, broker, topology, intake_signature)


async def handle_delivery(
    body: bytes,
    message: RabbitMessageType,
    service: ReviewService,
    broker: RabbitBroker,
    topology: Topology,
    intake_signature: MessageVerifier,
) -> None:
    attempts = attempt(message.headers)

    async def give_up(reason: str) -> None:
        await dead_letter(broker, topology, message, topology.review_queue, reason)
        await message.ack()
        INTAKE_MESSAGES.labels("dead_lettered").inc()

    async def try_again_later() -> None:
        await retry_later(broker, topology, message, topology.review_queue)
        INTAKE_MESSAGES.labels("retried").inc()

    try:
        # Nothing in the body is believed before the signature: anyone may publish on the broker.
        intake_signature.check(body, message.headers)
        received = read_message(body, *FROM_INTAKE)
    except BadSignature as error:
        await give_up(str(error))
        return
    except UnreadableMessage as error:
        await give_up(f"unprocessable: {error}")
        return
    envelope, contract_message = received.envelope, received.message
    correlation_id.set(envelope.metadata.correlation_id)
    try:
        with_text = (ProposalSubmittedMessage, ProposalRevisedMessage)
        parsed = contract_message.data if isinstance(contract_message, with_text) else None
        result = await service.record_intake_event(intake_command(envelope, parsed))
    except UnprocessableMessage as error:
        await give_up(f"unprocessable: {error}")
    except (asyncpg.DataError, UnstorableEvent) as error:  # content the store cannot hold: no retry helps
        await give_up(f"unstorable: {error}")
    except (ProposalNotFound, EarlierEventMissing) as error:
        # What it waits for was published before it, so it will come: wait, however many deliveries a
        # database outage may have cost meanwhile, for as long as PATIENCE since the event happened.
        waited = datetime.now(UTC) - envelope.occurred_at
        reason = "no such proposal" if isinstance(error, ProposalNotFound) else str(error)
        if waited > PATIENCE:
            await give_up(f"waited {waited} for an earlier event of the proposal: {reason}")
        else:
            await try_again_later()
    except TransitionRefused as error:
        if attempts >= MAX_REFUSALS:
            await give_up(f"refused after {attempts} attempts: {error}")
        else:
            await try_again_later()
    except ConcurrencyError:
        # Another process appended to the stream first: decide again at once, on what it appended.
        await message.nack(requeue=True)
        INTAKE_MESSAGES.labels("requeued").inc()
    except Exception as error:
        log.warning("intake event not recorded yet, tried again later: %s", error)
        await try_again_later()
    else:
        await message.ack()
        outcome = "recorded" if result.recorded else "duplicate"
        INTAKE_MESSAGES.labels(outcome).inc()
        log.info(
            "intake event %s",
            outcome,
            extra={
                "event_type": envelope.event_type,
                "event_id": str(envelope.event_id),
                "proposal_id": str(envelope.proposal_id),
            },
        )
