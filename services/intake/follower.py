"""Intake follows review's `proposal.status_changed` into its own view of each proposal.

Applying an announcement is idempotent and order-proof: it carries the review stream version, and a
version not newer than the one intake holds changes nothing. A message not signed by review, or that is
not a status change of the contract (or holds values intake's tables cannot), goes to the queue's
dead-letter queue with the reason.

`follow` decides what becomes of one message (the service applies the command it is translated into);
the subscriber below does what it decided on the broker.
"""

import logging
from dataclasses import dataclass
from typing import Any

import asyncpg
from faststream import AckPolicy
from faststream.rabbit import Channel, RabbitBroker
from faststream.rabbit.message import RabbitMessage as RabbitMessageType

from services.intake.application import ApplyStatusChange, IntakeService
from services.intake.metrics import STATUS_CHANGES
from shared.broker import StatusChangeDelivery, delivery_itself, exchange, review_events_queue
from shared.contract import Envelope, ProposalStatusChangedMessage, Topology, UnreadableMessage, read_message
from shared.observability import correlated, correlation_id
from shared.redelivery import dead_letter, retry_later
from shared.signing import BadSignature, MessageVerifier

log = logging.getLogger(__name__)


def apply_command(body: bytes) -> tuple[Envelope, ApplyStatusChange]:
    """The command a status change asks of intake: the status at its version, with the decision's details
    (reasons, notes, reference, stage, outcome) shown beside it. UnreadableMessage for a body that is
    not a status change of the contract."""
    received = read_message(body, ProposalStatusChangedMessage)
    envelope, change = received.envelope, received.message.data
    detail = {k: v for k, v in envelope.data.items() if k not in ("status", "version", "position")}
    return envelope, ApplyStatusChange(
        envelope.proposal_id, change.status, change.version, detail, envelope.occurred_at
    )


@dataclass(frozen=True)
class Applied:
    command: ApplyStatusChange
    applied: bool  # False: intake knew this version, or a later one, already

    @property
    def outcome(self) -> str:
        return "applied" if self.applied else "already_known"


@dataclass(frozen=True)
class GiveUp:
    reason: str


@dataclass(frozen=True)
class Retry:
    error: Exception


async def follow(
    body: bytes, headers: dict[str, Any], service: IntakeService, review_signature: MessageVerifier
) -> Applied | GiveUp | Retry:
    """What becomes of one message: applied (or known already), given up on with a reason (it goes to the
    dead-letter queue), or tried again later (the database is away). Sets the message's correlation id."""
    try:
        review_signature.check(body, headers)  # nothing in the body is believed before the signature
        envelope, command = apply_command(body)
    except BadSignature as error:
        return GiveUp(str(error))
    except UnreadableMessage as error:
        return GiveUp(f"not a status change: {error}")
    correlation_id.set(envelope.metadata.correlation_id)
    try:
        return Applied(command, await service.apply_status_change(command))
    except asyncpg.DataError as error:  # a value intake's tables cannot hold: no retry changes that
        return GiveUp(f"unstorable: {error}")
    except Exception as error:  # the database is away: keep the message
        return Retry(error)


def attach_follower(
    broker: RabbitBroker, topology: Topology, service: IntakeService, review_signature: MessageVerifier
) -> None:
    @broker.subscriber(
        review_events_queue(topology),
        exchange(topology.review_exchange),
        ack_policy=AckPolicy.MANUAL,
        decoder=delivery_itself,
        channel=Channel(prefetch_count=32),
    )
    async def follow_status(message: StatusChangeDelivery) -> None:
        with correlated(message.raw_message.correlation_id):
            await _follow(message, service, broker, topology, review_signature)


async def _follow(
    message: RabbitMessageType,
    service: IntakeService,
    broker: RabbitBroker,
    topology: Topology,
    review_signature: MessageVerifier,
) -> None:
    match await follow(bytes(message.body), message.headers, service, review_signature):
        case GiveUp(reason):
            await dead_letter(broker, topology, message, topology.intake_queue, reason)
            await message.ack()
            STATUS_CHANGES.labels("dead_lettered").inc()
        case Retry(error):
            log.warning("status change not applied yet, tried again later: %s", error)
            await retry_later(broker, topology, message, topology.intake_queue)
            STATUS_CHANGES.labels("retried").inc()
        case Applied(command) as applied:
            await message.ack()
            STATUS_CHANGES.labels(applied.outcome).inc()
            log.info(
                "status %s followed",
                command.status.value,
                extra={"proposal_id": str(command.proposal_id), "version": command.version},
            )
