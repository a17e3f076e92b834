"""Operators' view of dead letters: list them, and replay them to where they came from.

A dead letter arrives either from a consumer that found it unprocessable (reason in the
x-kipp-dead-letter-reason header, original routing key in x-kipp-routing-key) or from the broker after
the delivery limit (reason and routing key in x-death).
"""

import errno
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractConnection, AbstractIncomingMessage
from aiormq.exceptions import AMQPConnectionError

from shared.contract import Topology
from shared.redelivery import ATTEMPTS, ROUTING_KEY
from shared.redelivery import DEAD_LETTER_REASON as REASON

REPLAYED = "x-kipp-replayed"

# A broker host that accepts the connection and never answers would keep the client waiting for ever.
CONNECT_TIMEOUT = 10.0


@dataclass(frozen=True)
class DeadLetter:
    message_id: str | None
    type: str | None
    routing_key: str
    reason: str
    replayed: int
    body_preview: str


def sources(topology: Topology) -> dict[str, tuple[str, str]]:
    """Dead-letter queue by short name -> (its queue, the exchange its messages were published to)."""
    return {
        "review": (topology.review_dead_letter_queue, topology.intake_exchange),
        "intake": (topology.intake_dead_letter_queue, topology.review_exchange),
    }


def describe(message: AbstractIncomingMessage) -> DeadLetter:
    headers: dict[str, Any] = dict(message.headers or {})
    deaths = headers.get("x-death") or []
    first_death: dict[str, Any] = deaths[0] if deaths and isinstance(deaths[0], dict) else {}
    routing_keys = first_death.get("routing-keys") or [""]
    reason = headers.get(REASON) or f"broker: {first_death.get('reason', 'unknown')}"
    return DeadLetter(
        message_id=message.message_id,
        type=message.type,
        routing_key=str(headers.get(ROUTING_KEY) or routing_keys[0]),
        reason=str(reason),
        replayed=int(headers.get(REPLAYED) or 0),
        body_preview=message.body[:120].decode("utf-8", "replace"),
    )


async def connect(amqp_url: str) -> AbstractConnection:
    try:
        return await aio_pika.connect(amqp_url, timeout=CONNECT_TIMEOUT)
    except TimeoutError as error:
        # Raised as the client's other connection errors are, so the CLI names the broker, not PostgreSQL.
        raise AMQPConnectionError(errno.ETIMEDOUT, "timed out") from error


async def list_dead_letters(amqp_url: str, queue: str) -> list[DeadLetter]:
    """Reads without taking: every message goes back to the queue when the channel closes."""
    connection = await connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        source = await channel.get_queue(queue, ensure=True)
        found = []
        while (message := await source.get(no_ack=False, fail=False)) is not None:
            found.append(describe(message))
        return found


async def replay_dead_letters(
    amqp_url: str, queue: str, exchange: str, message_id: str | None = None, limit: int | None = None
) -> list[DeadLetter]:
    """Publishes dead letters again to their original exchange and routing key (confirmed), then removes
    them from the dead-letter queue. With `message_id`, only that one. Returns what was replayed.

    Only the dead letters present when it starts, each message id at most once: a replayed message that
    its consumer dead-letters again arrives behind them and waits for the next run."""
    connection = await connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        source = await channel.declare_queue(queue, passive=True)
        present = source.declaration_result.message_count or 0
        target = await channel.get_exchange(exchange, ensure=True)
        replayed: list[DeadLetter] = []
        seen: set[str] = set()
        # The queue is first in, first out, and what is skipped stays unacknowledged (taken) until the
        # channel closes: `present` gets reach the last of those there at the start and nothing after.
        for _ in range(present):
            if limit is not None and len(replayed) >= limit:
                break
            message = await source.get(no_ack=False, fail=False)
            if message is None:
                break
            letter = describe(message)
            if (message_id is not None and letter.message_id != message_id) or letter.message_id in seen:
                continue  # left unacknowledged: back in the queue when the channel closes
            # Replayed, a message starts its attempts again.
            dropped = ("x-death", "x-delivery-count", REASON, ROUTING_KEY, ATTEMPTS)
            headers = {k: v for k, v in (message.headers or {}).items() if k not in dropped}
            headers[REPLAYED] = letter.replayed + 1
            again = aio_pika.Message(
                message.body,
                headers=headers,
                message_id=message.message_id,
                type=message.type,
                content_type=message.content_type,
                correlation_id=message.correlation_id,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            )
            await target.publish(again, routing_key=letter.routing_key)
            await message.ack()
            replayed.append(letter)
            if letter.message_id is not None:
                seen.add(letter.message_id)
        return replayed
