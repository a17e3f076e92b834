"""What a consumer does with a message it could not process: try it again later through the broker, or
give up on it and dead-letter it with its reason.

A later attempt does not wait in the consumer. The message is published again, confirmed, to a retry
queue whose message TTL is the delay; when it expires the broker dead-letters it back to the consuming
queue (`declare_topology` builds that route). Only then is the delivery acknowledged, so nothing is lost
between the two, and the prefetch slot is free at once for the next message: a message that must wait
holds up no other. A crash between the confirm and the acknowledgement delivers the message twice, which
the consumer's inbox (the event id, unique in the store; the status change's version) takes once.

How many attempts a message has had travels with it in the header ATTEMPTS. Neither of the broker's own
counts can carry it across the round trip: a quorum queue's `x-delivery-count` counts deliveries from
that queue only, and starts again for the copy; `x-death` is the broker's, and RabbitMQ 4 no longer
reads it from a message a client publishes again.
"""

import asyncio
import contextlib
import logging
from typing import Any

from aio_pika import DeliveryMode, Message
from faststream.rabbit import RabbitBroker
from faststream.rabbit.message import RabbitMessage

from shared.broker import exchange, publish_confirmed
from shared.contract import Topology

log = logging.getLogger(__name__)

ATTEMPTS = "x-kipp-attempts"
DEAD_LETTER_REASON = "x-kipp-dead-letter-reason"
# Where the message was first published: a copy that came back from a retry queue was delivered with the
# retry route's key, and a replayed dead letter must go where the original went.
ROUTING_KEY = "x-kipp-routing-key"
# Set by the broker for the queue that delivered the message; a copy published again starts without them.
_BROKER_HEADERS = ("x-delivery-count", "x-acquired-count", "x-death")
UNSENT_PAUSE_SECONDS = 1.0


def delivery_count(headers: dict[str, Any]) -> int:
    """Which delivery of the message from its queue this is: quorum queues count earlier ones in
    x-delivery-count."""
    return _count(headers.get("x-delivery-count")) + 1


def attempt(headers: dict[str, Any]) -> int:
    """Which attempt at the message this is: those made before it last went through a retry queue, and
    this queue's deliveries since (a consumer that died with it, a requeue)."""
    return _count(headers.get(ATTEMPTS)) + delivery_count(headers)


def _count(value: Any) -> int:
    # Headers are not signed: anyone who can publish can set them, so anything but a count is none.
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def retry_queue(topology: Topology, queue: str, attempt: int) -> str:
    """The retry queue a message of `queue` waits in after its `attempt`-th attempt failed: the delays
    grow with the attempts, up to the last step."""
    queues = topology.retry_queues(queue)
    return queues[min(attempt, len(queues)) - 1]


def _copy(message: RabbitMessage, **headers: Any) -> Message:
    raw = message.raw_message
    kept = {k: v for k, v in (raw.headers or {}).items() if k not in _BROKER_HEADERS}
    return Message(
        raw.body,
        headers={ROUTING_KEY: raw.routing_key, **kept, **headers},
        message_id=raw.message_id,
        type=raw.type,
        content_type=raw.content_type,
        correlation_id=raw.correlation_id,
        delivery_mode=DeliveryMode.PERSISTENT,
    )


async def retry_later(broker: RabbitBroker, topology: Topology, message: RabbitMessage, queue: str) -> None:
    """Sends a message of `queue` to wait in a retry queue, then acknowledges it. Should the broker not
    take the copy, the delivery is put back instead, after a pause (at once, a broker that keeps refusing
    would hand it straight back, as fast as it fails), or, with the connection gone, the broker puts it
    back: tried again, never dropped."""
    tried = attempt(message.headers)
    waiting_in = retry_queue(topology, queue, tried)
    try:
        await publish_confirmed(
            broker, _copy(message, **{ATTEMPTS: tried}), exchange(topology.retry_exchange), waiting_in
        )
    except Exception as error:
        log.warning("could not send message %s to %s, requeued: %s", message.message_id, waiting_in, error)
        await asyncio.sleep(UNSENT_PAUSE_SECONDS)
        with contextlib.suppress(Exception):
            await message.nack(requeue=True)
        return
    await message.ack()


async def dead_letter(
    broker: RabbitBroker, topology: Topology, message: RabbitMessage, queue: str, reason: str
) -> None:
    """Publishes a consumed message unchanged, with the reason, to the dead-letter exchange (confirmed),
    routed to `queue`'s dead-letter queue. The caller then acknowledges the original."""
    log.error("dead-lettering message %s: %s", message.raw_message.message_id, reason)
    copy = _copy(message, **{DEAD_LETTER_REASON: reason[:1000], ATTEMPTS: attempt(message.headers)})
    await publish_confirmed(broker, copy, exchange(topology.dead_letter_exchange), queue)
