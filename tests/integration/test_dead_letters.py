"""Operators list dead letters with their reasons and replay them from the CLI."""

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator

import aio_pika
import asyncpg
import httpx
import pytest

from services.dead_letters import list_dead_letters, replay_dead_letters
from shared.broker import declare_topology, new_broker
from shared.contract import PROPOSAL_SUBMITTED, Topology
from shared.redelivery import DEAD_LETTER_REASON as REASON
from shared.redelivery import ROUTING_KEY
from tests.apps import eventually, intake_signer, publish_raw, queue_depth, review_app, running
from tests.fixtures import a_proposal
from tests.integration.test_review_consumer import intake_event


@pytest.fixture
async def review(database_url: str, amqp_url: str, topology: Topology) -> AsyncIterator[httpx.AsyncClient]:
    async with running(review_app(database_url, amqp_url, topology)) as client:
        yield client


@pytest.fixture
async def declared(amqp_url: str, topology: Topology) -> AsyncIterator[None]:
    """The exchanges and queues as the services declare them, with no service consuming."""
    broker = new_broker(amqp_url)
    await broker.connect()
    try:
        await declare_topology(broker, topology)
        yield
    finally:
        await broker.stop()


def run_kipp(
    database_url: str, amqp_url: str, topology: Topology, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "KIPP_DATABASE_URL": database_url,
        "KIPP_AMQP_URL": amqp_url,
        "KIPP_PREFIX": topology.prefix,
    }
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args], env=env, capture_output=True, text=True
    )


def kipp(database_url: str, amqp_url: str, topology: Topology, *args: str) -> list[str]:
    done = run_kipp(database_url, amqp_url, topology, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()


async def dead_letter(
    channel: aio_pika.abc.AbstractChannel, topology: Topology, message: aio_pika.Message
) -> None:
    """Into review's dead-letter queue, as review's consumer puts a message it cannot process."""
    message.headers = {**message.headers, REASON: "still unprocessable", ROUTING_KEY: PROPOSAL_SUBMITTED}
    exchange = await channel.get_exchange(topology.dead_letter_exchange)
    await exchange.publish(message, routing_key=topology.review_queue)


async def test_lists_dead_letters_with_their_reason_without_taking_them(
    review: httpx.AsyncClient, database_url: str, amqp_url: str, topology: Topology
) -> None:
    await publish_raw(amqp_url, topology.intake_exchange, PROPOSAL_SUBMITTED, b"{broken", "poison-7")

    async def listed() -> list[str] | None:
        lines = kipp(database_url, amqp_url, topology, "dead-letters", "list")
        return lines if lines[-1].startswith("1 ") else None

    lines = await eventually(listed)
    assert lines[0].startswith("poison-7  proposal.submitted  replayed 0x  unprocessable: ")
    assert kipp(database_url, amqp_url, topology, "dead-letters", "list")[-1].startswith("1 ")  # still there


async def test_a_replayed_dead_letter_is_recorded(
    review: httpx.AsyncClient, database_url: str, amqp_url: str, topology: Topology, pool: asyncpg.Pool
) -> None:
    # A submission that was dead-lettered (say, during a long outage) and is fine to process now.
    envelope = intake_event(PROPOSAL_SUBMITTED, uuid.uuid4(), a_proposal())
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        dead_exchange = await channel.get_exchange(topology.dead_letter_exchange)
        body = envelope.model_dump_json().encode()
        message = aio_pika.Message(
            body,
            message_id=str(envelope.event_id),
            headers={
                **intake_signer().headers(body),  # as intake signed it, before it was dead-lettered
                "x-kipp-dead-letter-reason": "database away too long",
                "x-kipp-routing-key": PROPOSAL_SUBMITTED,
            },
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        await dead_exchange.publish(message, routing_key=topology.review_queue)

    replayed = kipp(database_url, amqp_url, topology, "dead-letters", "replay")
    assert replayed == [
        f"replayed {envelope.event_id} to {topology.intake_exchange} (proposal.submitted)",
        "1 dead letter(s) replayed",
    ]
    await eventually(
        lambda: pool.fetchval("SELECT 1 FROM review.events WHERE event_id = $1", envelope.event_id)
    )
    assert kipp(database_url, amqp_url, topology, "dead-letters", "list")[-1].startswith("0 ")


async def test_a_run_replays_each_dead_letter_once(declared: None, amqp_url: str, topology: Topology) -> None:
    """Its consumer dead-letters the replayed message again (still broken, or its database still away);
    the copy arrives while the run is busy with the other dead letters, and is left for the next run."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        for message_id in ["still-broken", *(f"other-{n}" for n in range(100))]:
            await dead_letter(channel, topology, aio_pika.Message(b"{}", message_id=message_id))

        async def dead_letter_again(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            async with message.process():
                again = aio_pika.Message(message.body, message_id=message.message_id, headers=message.headers)
                await dead_letter(channel, topology, again)

        consumed = await (await connection.channel()).get_queue(topology.review_queue)
        await consumed.consume(dead_letter_again)
        replayed = await replay_dead_letters(
            amqp_url, topology.review_dead_letter_queue, topology.intake_exchange, "still-broken"
        )
        assert [letter.message_id for letter in replayed] == ["still-broken"]

        async def back() -> bool:
            return await queue_depth(amqp_url, topology.review_dead_letter_queue) == 101

        await eventually(back)
        letters = await list_dead_letters(amqp_url, topology.review_dead_letter_queue)
        [copy] = [letter for letter in letters if letter.message_id == "still-broken"]
        assert copy.replayed == 1


async def test_replaying_an_unknown_id_fails_naming_it(
    declared: None, database_url: str, amqp_url: str, topology: Topology
) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        await dead_letter(channel, topology, aio_pika.Message(b"{}", message_id="poison-7"))

    done = await asyncio.to_thread(
        run_kipp, database_url, amqp_url, topology, "dead-letters", "replay", "--id", "no-such-message"
    )
    assert done.returncode == 1
    assert done.stderr == f"no dead letter no-such-message in {topology.review_dead_letter_queue}\n"
    assert done.stdout == ""
    assert kipp(database_url, amqp_url, topology, "dead-letters", "list")[-1].startswith("1 ")
