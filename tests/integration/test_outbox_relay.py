"""Several intake processes relay one outbox: every event is published once, each proposal's in order."""

import asyncio
import json
import uuid
from datetime import UTC, datetime

import aio_pika
import asyncpg

from services.intake.relay import OutboxRelay
from services.intake.repository import add_to_outbox
from shared.broker import declare_topology, new_broker
from shared.contract import PROPOSAL_SUBMITTED, PROPOSAL_WITHDRAWN, Topology, new_envelope
from tests.apps import drain_queue, intake_signer
from tests.fixtures import SUBMITTER


async def test_two_relays_publish_every_event_once_and_each_proposal_in_order(
    pool: asyncpg.Pool, amqp_url: str, topology: Topology
) -> None:
    proposals = [uuid.uuid4() for _ in range(120)]
    async with pool.acquire() as conn:
        for event_type in (PROPOSAL_SUBMITTED, PROPOSAL_WITHDRAWN):
            for proposal_id in proposals:
                data = {"reason": "r"} if event_type == PROPOSAL_WITHDRAWN else {}
                envelope = new_envelope(
                    event_type,
                    proposal_id,
                    datetime.now(UTC),
                    data,
                    actor=SUBMITTER,
                    sequence=1 if event_type == PROPOSAL_SUBMITTED else 2,
                    source="test",
                    correlation_id="c",
                )
                await add_to_outbox(conn, envelope)

    brokers = [new_broker(amqp_url) for _ in range(2)]
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        copies = await channel.declare_queue(f"{topology.prefix}.copies", auto_delete=False)
        try:
            for broker in brokers:
                await broker.connect()
                await declare_topology(broker, topology)
            await copies.bind(topology.intake_exchange, routing_key="proposal.*")
            relays = [OutboxRelay(pool, broker, topology, intake_signer()) for broker in brokers]

            async def relay_until_empty(relay: OutboxRelay) -> None:
                while await pool.fetchval("SELECT count(*) FROM intake.outbox"):
                    await relay.relay_once()
                    await asyncio.sleep(0)

            await asyncio.gather(*(relay_until_empty(relay) for relay in relays))
            published = await drain_queue(amqp_url, copies.name)
        finally:
            await copies.delete(if_unused=False, if_empty=False)
            for broker in brokers:
                await broker.stop()

    bodies = [json.loads(message.body) for message in published]
    assert len(bodies) == 240
    assert len({body["event_id"] for body in bodies}) == 240
    for proposal_id in proposals:
        types = [b["event_type"] for b in bodies if b["proposal_id"] == str(proposal_id)]
        assert types == [PROPOSAL_SUBMITTED, PROPOSAL_WITHDRAWN]
