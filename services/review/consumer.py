"""Consumes intake's events from the broker into the event store.

A message is acknowledged only after its event has committed (or was already recorded). What happens
otherwise depends on why it failed:
- it can never be processed (not JSON, not the envelope, unknown type, invalid proposal): it is published
  to the dead-letter exchange with the reason in a header, then acknowledged, and the consumer goes on;
- the lifecycle refuses it (for example a revision that arrived before its submission): requeued with a
  growing delay, because the missing event may still arrive; after MAX_REFUSALS deliveries, dead-lettered;
- anything else (database away, connection lost): requeued with a delay, never dropped.
"""

import asyncio
import logging
from typing import Any

from aio_pika import DeliveryMode, Message
from faststream import AckPolicy
from faststream.rabbit import Channel, RabbitBroker, RabbitExchange
from faststream.rabbit.annotations import RabbitMessage
from faststream.rabbit.message import RabbitMessage as RabbitMessageType
from pydantic import ValidationError

from services.review.application import EarlierEventMissing, ReviewService, UnprocessableMessage
from services.review.domain.lifecycle import ProposalNotFound, TransitionRefused
from services.review.eventstore.base import ConcurrencyError
from services.review.metrics import INTAKE_MESSAGES
from shared.broker import delivery_count, exchange, intake_events_queue, publish_confirmed, requeue_delay
from shared.contract import Envelope, Topology
from shared.observability import correlation_id

log = logging.getLogger(__name__)

MAX_REFUSALS = 10
DEAD_LETTER_REASON = "x-kipp-dead-letter-reason"


async def _raw_body(message: Any) -> bytes:
    # The handler parses the body itself, so that a body that is not JSON reaches it and is dead-lettered
    # with a reason, instead of failing inside the framework before any acknowledgement is decided.
    return bytes(message.body)


def attach_consumer(
    broker: RabbitBroker, topology: Topology, service: ReviewService, concurrency: int
) -> None:
    dead = exchange(topology.dead_letter_exchange)

    @broker.subscriber(
        intake_events_queue(topology),
        exchange(topology.intake_exchange),
        ack_policy=AckPolicy.MANUAL,
        decoder=_raw_body,
        channel=Channel(prefetch_count=concurrency),
    )
    async def record_intake_event(body: bytes, message: RabbitMessage) -> None:
        await handle_delivery(body, message, service, broker, dead, topology)


async def handle_delivery(
    body: bytes,
    message: RabbitMessageType,
    service: ReviewService,
    broker: RabbitBroker,
    dead: RabbitExchange,
    topology: Topology,
) -> None:
    deliveries = delivery_count(message.headers)
    token = correlation_id.set(message.raw_message.correlation_id)
    try:
        envelope = Envelope.model_validate_json(body)
        correlation_id.set(envelope.metadata.correlation_id)
        result = await service.record_intake_event(envelope)
    except (ValidationError, UnprocessableMessage) as error:
        await _dead_letter(broker, dead, topology, message, f"unprocessable: {error}")
        await message.ack()
        INTAKE_MESSAGES.labels("dead_lettered").inc()
    except (ProposalNotFound, EarlierEventMissing, TransitionRefused) as error:
        reason = "no such proposal yet" if isinstance(error, ProposalNotFound) else str(error)
        if deliveries >= MAX_REFUSALS:
            await _dead_letter(
                broker, dead, topology, message, f"refused after {deliveries} deliveries: {reason}"
            )
            await message.ack()
            INTAKE_MESSAGES.labels("dead_lettered").inc()
        else:
            await asyncio.sleep(requeue_delay(deliveries))
            await message.nack(requeue=True)
            INTAKE_MESSAGES.labels("requeued").inc()
    except ConcurrencyError:
        await message.nack(requeue=True)  # another process appended to the stream first: decide again
        INTAKE_MESSAGES.labels("requeued").inc()
    except Exception as error:
        log.warning("intake event not recorded yet, requeued: %s", error)
        await asyncio.sleep(requeue_delay(deliveries))
        await message.nack(requeue=True)
        INTAKE_MESSAGES.labels("requeued").inc()
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
    finally:
        correlation_id.reset(token)


async def _dead_letter(
    broker: RabbitBroker, dead: RabbitExchange, topology: Topology, message: RabbitMessageType, reason: str
) -> None:
    """Publishes the message unchanged, with the reason, to the dead-letter exchange (confirmed)."""
    raw = message.raw_message
    log.error("dead-lettering message %s: %s", raw.message_id, reason)
    headers = {
        **(raw.headers or {}),
        DEAD_LETTER_REASON: reason[:1000],
        "x-kipp-routing-key": raw.routing_key,
    }
    message_out = Message(
        raw.body,
        headers=headers,
        message_id=raw.message_id,
        type=raw.type,
        content_type=raw.content_type,
        delivery_mode=DeliveryMode.PERSISTENT,
    )
    await publish_confirmed(broker, message_out, dead, topology.review_queue)
