"""The confirmed publisher both of the services' log followers use: intake's outbox relay and review's
status-change publisher.

A window of messages is published with publisher confirms: messages of different streams (proposals)
side by side, one stream's strictly in order. It returns only once the broker confirmed every message
it published, and raises if the broker failed any (the caller then keeps the whole window, to publish
it again). A message that can never be put on the wire (it cannot be made, or not encoded as AMQP) is
not published but returned with the reason, for the caller to park: one bad message must never hold
back the ones behind it.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from aio_pika import Message
from faststream.rabbit import RabbitBroker
from pydantic import ValidationError

from shared.broker import exchange, publish_confirmed, unpublishable
from shared.validation import refusal


@dataclass(frozen=True)
class Outgoing:
    key: int  # how the caller knows it (an outbox row's id, an event's position): the window's order
    stream: Any  # messages of one stream are published in order
    routing_key: str
    build: Callable[[], Message]  # may raise: then no message can be made of it


def _why(error: Exception) -> str:
    # A parked reason is kept and listed: pydantic's own words would quote the content, a person's fields.
    if isinstance(error, ValidationError):
        return f"not a valid {error.title}: {refusal(error)}"
    return str(error)


class ConfirmedPublisher:
    def __init__(self, broker: RabbitBroker, exchange_name: str) -> None:
        self._broker = broker
        self._exchange = exchange(exchange_name)

    async def publish(self, window: list[Outgoing]) -> dict[int, str]:
        """Publishes the window; returns the keys it could not publish, with the reason."""
        parked: dict[int, str] = {}
        ready: list[tuple[Outgoing, Message]] = []
        for item in window:
            try:
                message = item.build()
            except Exception as error:  # whatever in this item's own content makes it unbuildable
                parked[item.key] = f"no message can be made of it: {_why(error)}"
                continue
            if reason := unpublishable(message, self._exchange.name, item.routing_key):
                parked[item.key] = reason
            else:
                ready.append((item, message))
        streams = groupby(sorted(ready, key=lambda r: (str(r[0].stream), r[0].key)), lambda r: r[0].stream)
        await asyncio.gather(*(self._in_order(list(messages)) for _, messages in streams))
        return parked

    async def _in_order(self, messages: list[tuple[Outgoing, Message]]) -> None:
        for item, message in messages:
            await publish_confirmed(self._broker, message, self._exchange, item.routing_key)
