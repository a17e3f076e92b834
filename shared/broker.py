"""Declares the broker topology of the message contract: exchanges, and the dead-letter queue."""

from faststream.rabbit import ExchangeType, QueueType, RabbitBroker, RabbitExchange, RabbitQueue

from shared.contract import Topology


def exchange(name: str) -> RabbitExchange:
    return RabbitExchange(name, type=ExchangeType.TOPIC, durable=True)


async def declare_topology(broker: RabbitBroker, topology: Topology) -> None:
    """Idempotent: every process declares what it relies on, so start-up order does not matter."""
    for name in topology.all_exchanges():
        await broker.declare_exchange(exchange(name))
    dead_queue = await broker.declare_queue(
        RabbitQueue(topology.review_dead_letter_queue, queue_type=QueueType.QUORUM, durable=True)
    )
    await dead_queue.bind(topology.dead_letter_exchange, routing_key=topology.review_queue)
