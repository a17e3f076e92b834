"""The services' broker client with several nodes in KIPP_AMQP_URL: it starts on the first node that
answers, and when its node goes away it carries on, publishing and consuming, through the next one.

The nodes here are cuttable proxies in front of the one test broker (a real three-node cluster is the HA
drill's, in tests/faults/test_ha_drill.py): what the client sees of a node that stops is the same."""

import asyncio
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from aio_pika import Message
from faststream.rabbit import QueueType, RabbitQueue, RabbitRouter

from shared.broker import exchange, new_broker, publish_confirmed
from shared.contract import Topology
from shared.failover import FailoverConnection
from shared.startup import keep_trying
from tests.faults.proxy import TcpProxy
from tests.processes import free_port

pytestmark = pytest.mark.integration


def cluster_url(amqp_url: str, *ports: int) -> str:
    """The test broker's URL with its one host replaced by several local ports."""
    parts = urlsplit(amqp_url)
    credentials = parts.netloc.rpartition("@")[0]
    hosts = ",".join(f"127.0.0.1:{port}" for port in ports)
    return parts._replace(netloc=f"{credentials}@{hosts}" if credentials else hosts).geturl()


@pytest.fixture
async def two_nodes(amqp_url: str) -> AsyncIterator[tuple[TcpProxy, TcpProxy]]:
    target = urlsplit(amqp_url)
    nodes = (
        TcpProxy(target.hostname or "127.0.0.1", target.port or 5672),
        TcpProxy(target.hostname or "127.0.0.1", target.port or 5672),
    )
    for node in nodes:
        await node.start()
    try:
        yield nodes
    finally:
        for node in nodes:
            await node.close()


async def publish_until_confirmed(broker: object, body: bytes, topology: Topology, within: float = 20) -> int:
    """Publishes until the broker confirms, as the outbox relay does; returns how many tries it took."""
    deadline = time.monotonic() + within
    tries = 0
    while True:
        tries += 1
        try:
            await publish_confirmed(
                broker,  # type: ignore[arg-type]
                Message(body, message_id=body.decode()),
                exchange(topology.intake_exchange),
                "proposal.submitted",
            )
            return tries
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def test_a_client_starts_on_the_first_node_that_answers(amqp_url: str, topology: Topology) -> None:
    down = free_port()  # nothing listens there: a node that is down
    target = urlsplit(amqp_url).port or 5672
    broker = new_broker(cluster_url(amqp_url, down, target))
    tries = 0

    async def connect() -> object:
        nonlocal tries
        tries += 1
        return await broker.connect()

    try:
        connection = await keep_trying("RabbitMQ", connect, pause=0.1)
        assert isinstance(connection, FailoverConnection)
        assert connection.address.port == target
        assert tries == 2  # the node that is down was tried once, then the next one
        queue = RabbitQueue(f"{topology.prefix}.first-up", queue_type=QueueType.QUORUM, durable=True)
        await broker.declare_exchange(exchange(topology.intake_exchange))
        declared = await broker.declare_queue(queue)
        await declared.bind(topology.intake_exchange, routing_key="proposal.submitted")
        assert await publish_until_confirmed(broker, b"first", topology) == 1
    finally:
        await broker.stop()
        await delete_queue(amqp_url, f"{topology.prefix}.first-up")


async def test_when_its_node_stops_the_client_goes_on_publishing_and_consuming_through_another(
    amqp_url: str, topology: Topology, two_nodes: tuple[TcpProxy, TcpProxy]
) -> None:
    first, second = two_nodes
    broker = new_broker(cluster_url(amqp_url, first.port, second.port))
    received: list[bytes] = []
    queue = RabbitQueue(
        f"{topology.prefix}.failover",
        queue_type=QueueType.QUORUM,
        durable=True,
        routing_key="proposal.submitted",
    )
    router = RabbitRouter()

    @router.subscriber(queue, exchange(topology.intake_exchange))
    async def collect(body: bytes) -> None:
        received.append(body)

    broker.include_router(router)
    try:
        connection = await broker.connect()
        assert isinstance(connection, FailoverConnection)
        assert connection.address.port == first.port
        await broker.start()
        await publish_until_confirmed(broker, b"before", topology)
        await wait_for(lambda: b"before" in received)

        await first.cut()  # the node the client is connected to stops, and refuses from now on
        tries = await publish_until_confirmed(broker, b"after", topology)
        await wait_for(lambda: b"after" in received)  # the consumer was restored on the other node
        assert connection.address.port == second.port
        assert tries >= 1
        assert received.count(b"after") == 1
    finally:
        await broker.stop()
        await delete_queue(amqp_url, queue.name)


async def wait_for(condition: object, within: float = 20) -> None:
    deadline = time.monotonic() + within
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "not within the time"
        await asyncio.sleep(0.05)


async def delete_queue(amqp_url: str, name: str) -> None:
    import aio_pika

    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(name)
