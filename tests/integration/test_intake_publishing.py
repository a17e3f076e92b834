"""Intake publishes each accepted submission to the intake exchange, in the contract's envelope."""

import asyncio
import json
import uuid

import aio_pika
import asyncpg

from shared.contract import Topology
from tests.apps import eventually, intake_app, running
from tests.fixtures import a_proposal
from tests.keys import Keys, bearer


async def test_a_submission_is_published_persistent_in_the_envelope_and_leaves_the_outbox(
    database_url: str, amqp_url: str, topology: Topology, pool: asyncpg.Pool, keys: Keys
) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            topology.intake_exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        listener = await channel.declare_queue(exclusive=True)
        await listener.bind(exchange, routing_key="proposal.*")
        received: asyncio.Queue[aio_pika.abc.AbstractIncomingMessage] = asyncio.Queue()
        await listener.consume(received.put, no_ack=True)

        async with running(intake_app(database_url, amqp_url, topology)) as intake:
            answer = await intake.post(
                "/v1/proposals",
                json=a_proposal(),
                headers={"X-Correlation-ID": "corr-1", **bearer(keys.submitter)},
            )
            assert answer.status_code == 202
            message = await asyncio.wait_for(received.get(), 10)
            await eventually(lambda: pool.fetchval("SELECT count(*) = 0 FROM intake.outbox"))

    body = json.loads(message.body)
    assert set(body) == {
        "event_id",
        "event_type",
        "schema_version",
        "proposal_id",
        "occurred_at",
        "data",
        "metadata",
    }
    assert body["proposal_id"] == answer.json()["proposal_id"]
    assert body["event_type"] == "proposal.submitted"
    posted = a_proposal()
    assert {**body["data"], "innovator": None} == {**posted, "innovator": None}
    for personal in (posted["innovator"]["name"], posted["innovator"]["email"]):
        assert personal.encode() not in message.body  # the person leaves intake encrypted
    assert body["metadata"]["correlation_id"] == "corr-1"
    assert body["metadata"]["source"] == "intake-api"
    assert message.routing_key == "proposal.submitted"
    assert message.message_id == body["event_id"]
    assert uuid.UUID(body["event_id"])
    assert message.type == "proposal.submitted"
    assert message.content_type == "application/json"
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
