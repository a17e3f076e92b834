"""The broker side of the message contract, declared once for both services: exchanges, the consuming
queues with their dead-letter queues, and how an envelope travels as an AMQP message."""

import asyncio
import contextlib
import functools
import logging
import operator
import struct
from typing import TYPE_CHECKING, Annotated, Any

import aio_pika
from aio_pika import DeliveryMode, Message
from faststream.rabbit import Channel, ExchangeType, QueueType, RabbitBroker, RabbitExchange, RabbitQueue
from faststream.rabbit.message import RabbitMessage
from pamqp import commands
from pamqp.header import ContentHeader
from pydantic import Field, GetCoreSchemaHandler
from pydantic_core import CoreSchema, core_schema

from shared.contract import (
    FROM_INTAKE,
    FROM_REVIEW,
    INTAKE_EVENT_TYPES,
    PROPOSAL_STATUS_CHANGED,
    ContractMessage,
    Topology,
    valid_correlation_id,
)
from shared.signing import MessageSigner

log = logging.getLogger(__name__)

# A confirm that has not come after this long is treated as a failed publish (and published again).
PUBLISH_TIMEOUT_SECONDS = 10.0
# A last resort against a message that kills its consumer every time it is delivered: the broker
# dead-letters it after this many deliveries from one queue. A message the consumer could not process yet
# goes round a retry queue instead, and comes back as a new message counted from zero; what the queue
# counts up to this is a consumer dying with the message, or one put back at once for being decided
# against a stale stream version. (The limit is high because it was, when requeues came back to this
# queue; RabbitMQ refuses to declare a queue again with other arguments.)
DELIVERY_LIMIT = 100_000


def exchange(name: str) -> RabbitExchange:
    return RabbitExchange(name, type=ExchangeType.TOPIC, durable=True)


def _consuming_queue(name: str, topology: Topology, routing_key: str) -> RabbitQueue:
    return RabbitQueue(
        name,
        queue_type=QueueType.QUORUM,
        durable=True,
        routing_key=routing_key,
        arguments={
            "x-dead-letter-exchange": topology.dead_letter_exchange,
            # Dead letters keep the name of the queue they left, so each lands in its own ".dead" queue.
            "x-dead-letter-routing-key": name,
            "x-delivery-limit": DELIVERY_LIMIT,
        },
    )


def retry_queue_declaration(topology: Topology, queue: str, step: int) -> RabbitQueue:
    """The retry queue of `queue`'s `step` (from 1): a message waits in it for the step's delay, then the
    broker dead-letters it back to `queue` through the retry exchange. At least once: the broker keeps
    the message until `queue` has taken it (which needs reject-publish on overflow)."""
    return RabbitQueue(
        topology.retry_queues(queue)[step - 1],
        queue_type=QueueType.QUORUM,
        durable=True,
        arguments={
            "x-message-ttl": round(topology.retry_delays[step - 1] * 1000),
            "x-dead-letter-exchange": topology.retry_exchange,
            "x-dead-letter-routing-key": queue,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        },
    )


def dead_letter_queue_declaration(name: str) -> RabbitQueue:
    return RabbitQueue(name, queue_type=QueueType.QUORUM, durable=True)


def intake_events_queue(topology: Topology) -> RabbitQueue:
    """Review consumes intake's events from here."""
    return _consuming_queue(topology.review_queue, topology, "proposal.*")


def review_events_queue(topology: Topology) -> RabbitQueue:
    """Intake follows review's status changes from here."""
    return _consuming_queue(topology.intake_queue, topology, PROPOSAL_STATUS_CHANGED)


async def delivery_itself(message: Any) -> Any:
    """A subscriber's decoder that hands its handler the delivery itself, undecoded. The handler parses
    the body, so a body that is not JSON reaches it (and is dead-lettered with a reason) instead of
    failing inside the framework before an acknowledgement is decided. And the handler takes no
    injected `Context("message")`: FastDepends resolves that in a worker thread, for every message."""
    return message


class Carrying:
    """Marks a subscriber's parameter that takes the delivery itself (see `delivery_itself`) with the
    messages of the contract it carries: the handler is given the delivery, unchecked but for its class,
    and the AsyncAPI document shows the messages' schema (one of them, told apart by `event_type`)."""

    def __init__(self, *kinds: type[ContractMessage]) -> None:
        self.kinds = kinds

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        one_of = functools.reduce(operator.or_, self.kinds)
        carried: Any = Annotated[one_of, Field(discriminator="event_type")]
        return core_schema.json_or_python_schema(
            json_schema=handler.generate_schema(carried),
            python_schema=core_schema.is_instance_schema(RabbitMessage),
        )


# What review's consumer and intake's follower are handed: the delivery. FastStream refuses its own message
# class as the annotation of a handler's parameter (it would take it for the message's data), so the
# annotation FastStream reads names no class; the type checker sees the class the handler gets.
if TYPE_CHECKING:
    IntakeEventDelivery = RabbitMessage
    StatusChangeDelivery = RabbitMessage
else:
    IntakeEventDelivery = Annotated[Any, Carrying(*FROM_INTAKE)]
    StatusChangeDelivery = Annotated[Any, Carrying(*FROM_REVIEW)]


def new_broker(amqp_url: str) -> RabbitBroker:
    # A message the broker cannot route to any queue is an error for the publisher (who keeps it and
    # retries), never a silent drop.
    return RabbitBroker(
        amqp_url, logger=None, default_channel=Channel(on_return_raises=True), reconnect_interval=1.0
    )


async def declare_topology(broker: RabbitBroker, topology: Topology) -> None:
    """Declares every exchange, queue and binding of the contract. Idempotent. Both services do it at
    start-up, so no event is published before the queue that must receive it exists."""
    for name in topology.all_exchanges():
        await broker.declare_exchange(exchange(name))
    consuming = (
        (
            intake_events_queue(topology),
            topology.intake_exchange,
            INTAKE_EVENT_TYPES,
            topology.review_dead_letter_queue,
        ),
        (
            review_events_queue(topology),
            topology.review_exchange,
            (PROPOSAL_STATUS_CHANGED,),
            topology.intake_dead_letter_queue,
        ),
    )
    for queue, source, routing_keys, dead in consuming:
        declared = await broker.declare_queue(queue)
        for routing_key in routing_keys:
            await declared.bind(source, routing_key=routing_key)
        dead_queue = await broker.declare_queue(dead_letter_queue_declaration(dead))
        await dead_queue.bind(topology.dead_letter_exchange, routing_key=queue.name)
        # Retries: the consumer publishes a message to wait in a step's queue (keyed by its name); expired,
        # it comes back keyed by the consuming queue's name (see shared/redelivery.py).
        await declared.bind(topology.retry_exchange, routing_key=queue.name)
        for step in range(1, len(topology.retry_delays) + 1):
            waiting = await broker.declare_queue(retry_queue_declaration(topology, queue.name, step))
            await waiting.bind(topology.retry_exchange, routing_key=waiting.name)


def envelope_message(
    body: bytes, *, event_id: str, event_type: str, correlation_id: str, signer: MessageSigner
) -> Message:
    """An envelope as the contract sends it: message id = event id, type = event type, persistent, and
    signed. The correlation id rides in the properties only in the form the services accept (history
    recorded before they checked it may hold any text, which AMQP's 255-byte property cannot carry)."""
    return Message(
        body,
        headers=signer.headers(body),
        message_id=event_id,
        type=event_type,
        content_type="application/json",
        correlation_id=correlation_id if valid_correlation_id(correlation_id) else None,
        delivery_mode=DeliveryMode.PERSISTENT,
    )


def unpublishable(message: Message, exchange_name: str, routing_key: str) -> str | None:
    """Why the message cannot be put on the wire, or None. Encoded here, before publishing, so that a
    message that can never be published is told apart from a broker that is away for now."""
    try:
        commands.Basic.Publish(exchange=exchange_name, routing_key=routing_key).marshal()
        ContentHeader(0, len(message.body), message.properties).marshal()
    except (TypeError, ValueError, OverflowError, struct.error) as error:
        return f"cannot be encoded as an AMQP message: {error}"
    return None


async def publish_confirmed(
    broker: RabbitBroker, message: Message, to: RabbitExchange, routing_key: str
) -> None:
    """Returns once the broker confirmed the message; raises otherwise (nack, unroutable, timeout, lost
    connection), and the caller keeps the message to publish again."""
    await asyncio.wait_for(
        broker.publish(message, exchange=to, routing_key=routing_key, persist=True), PUBLISH_TIMEOUT_SECONDS
    )


def document_publications(broker: RabbitBroker, topology: Topology, side: str) -> None:
    """Declares what each service publishes, each message with its own schema, so its AsyncAPI document
    shows it (the services publish through their outbox and event-log readers, with the same exchange and
    the event type as routing key)."""
    name, kinds = (
        (topology.intake_exchange, FROM_INTAKE)
        if side == "intake"
        else (topology.review_exchange, FROM_REVIEW)
    )
    for kind in kinds:
        routing_key = kind.event_type_name()
        broker.publisher(
            exchange=exchange(name),
            routing_key=routing_key,
            title=f"{name}:{routing_key}",
            description=" ".join((kind.__doc__ or routing_key).split()),
            schema=kind,
        )


class QueueDepths:
    """Reads queue depths for /metrics with a passive declare on a connection of its own (the broker
    client's declarer caches its answers)."""

    def __init__(self, amqp_url: str) -> None:
        self._amqp_url = amqp_url
        self._connection: aio_pika.abc.AbstractRobustConnection | None = None

    async def depths(self, *queues: str) -> dict[str, int]:
        if self._connection is None:
            self._connection = await aio_pika.connect_robust(self._amqp_url)
        found = {}
        async with self._connection.channel() as channel:
            for name in queues:
                declared = await channel.declare_queue(name, passive=True)
                found[name] = int(declared.declaration_result.message_count or 0)
        return found

    async def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
            self._connection = None
