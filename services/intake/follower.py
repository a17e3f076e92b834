"""Intake follows review's `proposal.status_changed` into its own view of each proposal.

Applying an announcement is idempotent and order-proof: it carries the review stream version, and a
version not newer than the one intake holds changes nothing. A message that is not a status change
of the contract is rejected without requeue and goes to the queue's dead-letter queue.
"""

import asyncio
import logging
from typing import Any, cast

import asyncpg
from faststream import AckPolicy
from faststream.rabbit import Channel, RabbitBroker
from faststream.rabbit.message import RabbitMessage as RabbitMessageType
from pydantic import ValidationError

from services.intake.metrics import STATUS_CHANGES
from services.intake.repository import apply_status_change
from shared.broker import delivery_count, delivery_itself, exchange, requeue_delay, review_events_queue
from shared.contract import Envelope, Topology
from shared.lifecycle import Status
from shared.observability import correlated, correlation_id

log = logging.getLogger(__name__)


def attach_follower(broker: RabbitBroker, topology: Topology, pool: asyncpg.Pool) -> None:
    @broker.subscriber(
        review_events_queue(topology),
        exchange(topology.review_exchange),
        ack_policy=AckPolicy.MANUAL,
        decoder=delivery_itself,
        channel=Channel(prefetch_count=32),
    )
    async def follow_status(delivery: Any) -> None:
        message = cast(RabbitMessageType, delivery)
        with correlated(message.raw_message.correlation_id):
            await _follow(bytes(message.body), message, pool)


async def _follow(body: bytes, message: RabbitMessageType, pool: asyncpg.Pool) -> None:
    try:
        envelope = Envelope.model_validate_json(body)
        status = Status(envelope.data["status"])
        version = int(envelope.data["version"])
    except (ValidationError, KeyError, ValueError, TypeError) as error:
        log.error("not a status change, dead-lettered: %s", error)
        await message.reject(requeue=False)
        STATUS_CHANGES.labels("dead_lettered").inc()
        return
    correlation_id.set(envelope.metadata.correlation_id)
    detail = {k: v for k, v in envelope.data.items() if k not in ("status", "version", "position")}
    try:
        applied = await apply_status_change(
            pool, envelope.proposal_id, status.value, version, detail, envelope.occurred_at
        )
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
