"""What both reference processes share: the broker's names, a connection with confirms, and a background
loop that runs when poked (or every half second)."""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aio_pika
from pamqp.common import FieldTable

QUORUM: FieldTable = {"x-queue-type": "quorum"}


@dataclass(frozen=True)
class Names:
    prefix: str

    @property
    def intake_exchange(self) -> str:
        return f"{self.prefix}.intake"

    @property
    def review_exchange(self) -> str:
        return f"{self.prefix}.review"

    @property
    def review_queue(self) -> str:
        return f"{self.prefix}.review.intake-events"

    @property
    def intake_queue(self) -> str:
        return f"{self.prefix}.intake.review-events"


async def declare(channel: aio_pika.abc.AbstractChannel, names: Names) -> None:
    """Topic exchanges, durable quorum queues bound to them: as the product declares its own."""
    for exchange_name, queue_name, key in (
        (names.intake_exchange, names.review_queue, "proposal.*"),
        (names.review_exchange, names.intake_queue, "proposal.status_changed"),
    ):
        exchange = await channel.declare_exchange(exchange_name, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(queue_name, durable=True, arguments=QUORUM)
        await queue.bind(exchange, key)


async def delete(amqp_url: str, names: Names) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        for queue in (names.review_queue, names.intake_queue):
            await channel.queue_delete(queue)
        for exchange in (names.intake_exchange, names.review_exchange):
            await channel.exchange_delete(exchange)


def persistent(body: bytes, message_id: str) -> aio_pika.Message:
    return aio_pika.Message(
        body,
        message_id=message_id,
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )


class Loop:
    """Runs `step` when poked, again at once while it says more is waiting, and at least every 0.5 s."""

    def __init__(self, step: Callable[[], Awaitable[bool]]) -> None:
        self._step = step
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def poke(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            while await self._step():
                pass
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.5)
