"""Declares the broker topology of the message contract: exchanges, and the dead-letter queue."""

from aio_pika import DeliveryMode, Message
from faststream.rabbit import ExchangeType, QueueType, RabbitBroker, RabbitExchange, RabbitQueue

from shared.contract import Topology


def exchange(name: str) -> RabbitExchange:
    return RabbitExchange(name, type=ExchangeType.TOPIC, durable=True)


async def declare_topology(broker: RabbitBroker, topology: Topology) -> None:
    """Idempotent: every process declares what it relies on, so start-up order does not matter."""
    for name in topology.all_exchanges():
        await broker.declare_exchange(exchange(name))
    # Each consuming queue dead-letters under its own name as routing key, into its own ".dead" queue.
    for source, dead in (
        (topology.review_queue, topology.review_dead_letter_queue),
        (topology.intake_queue, topology.intake_dead_letter_queue),
    ):
        dead_queue = await broker.declare_queue(RabbitQueue(dead, queue_type=QueueType.QUORUM, durable=True))
        await dead_queue.bind(topology.dead_letter_exchange, routing_key=source)


def envelope_message(body: bytes, *, event_id: str, event_type: str, correlation_id: str) -> Message:
    """An envelope as the contract sends it: message id = event id, type = event type, persistent."""
    return Message(
        body,
        message_id=event_id,
        type=event_type,
        content_type="application/json",
        correlation_id=correlation_id,
        delivery_mode=DeliveryMode.PERSISTENT,
    )
