"""Intake follows review's `proposal.status_changed` into its own view of each proposal.

Applying an announcement is idempotent and order-proof: it carries the review stream version, and a
version not newer than the one intake holds changes nothing. A message not signed by review, or that is
not a status change of the contract (or holds values intake's tables cannot), goes to the queue's
dead-letter queue with the reason.
"""

import asyncio
import logging

import asyncpg
from faststream import AckPolicy
from faststream.rabbit import Channel, RabbitBroker
from faststream.rabbit.message import RabbitMessage as RabbitMessageType

from services.intake.metrics import STATUS_CHANGES
from services.intake.repository import apply_status_change
from shared.broker import (
    StatusChangeDelivery,
    dead_letter,
    delivery_count,
    delivery_itself,
    exchange,
    requeue_delay,
    review_events_queue,
)
from shared.contract import ProposalStatusChangedMessage, Topology, UnreadableMessage, read_message
from shared.observability import correlated, correlation_id
from shared.signing import BadSignature, MessageVerifier

log = logging.getLogger(__name__)


def attach_follower(
    broker: RabbitBroker, topology: Topology, pool: asyncpg.Pool, review_signature: MessageVerifier
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
            await _follow(bytes(message.body), message, pool, broker, topology, review_signature)


async def _follow(
    body: bytes,
    message: RabbitMessageType,
    pool: asyncpg.Pool,
    broker: RabbitBroker,
    topology: Topology,
    review_signature: MessageVerifier,
) -> None:
    async def give_up(reason: str) -> None:
        await dead_letter(broker, topology, message, topology.intake_queue, reason)
        await message.ack()
        STATUS_CHANGES.labels("dead_lettered").inc()

    try:
        review_signature.check(body, message.headers)
        received = read_message(body, ProposalStatusChangedMessage)
    except BadSignature as error:
        await give_up(str(error))
        return
    except UnreadableMessage as error:
        await give_up(f"not a status change: {error}")
        return
    envelope, change = received.envelope, received.message.data
    correlation_id.set(envelope.metadata.correlation_id)
    status, version = change.status, change.version
    detail = {k: v for k, v in envelope.data.items() if k not in ("status", "version", "position")}
    try:
        applied = await apply_status_change(
            pool, envelope.proposal_id, status.value, version, detail, envelope.occurred_at
        )
    except asyncpg.DataError as error:  # a value intake's tables cannot hold: no retry changes that
        await give_up(f"unstorable: {error}")
        return
    except Exception as error:  # the database is away: keep the message
        log.warning("status change not applied yet, requeued: %s", error)
        await asyncio.sleep(requeue_delay(delivery_count(message.headers)))
        await message.nack(requeue=True)
        STATUS_CHANGES.labels("requeued").inc()
        return
    await message.ack()
    STATUS_CHANGES.labels("applied" if applied else "already_known").inc()
    log.info(
        "status %s followed",
        status.value,
        extra={"proposal_id": str(envelope.proposal_id), "version": version},
    )
