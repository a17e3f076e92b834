"""Operators list dead letters with their reasons and replay them from the CLI."""

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator

import aio_pika
import asyncpg
import httpx
import pytest

from shared.contract import PROPOSAL_SUBMITTED, Topology
from tests.apps import eventually, intake_signer, publish_raw, review_app, running
from tests.fixtures import a_proposal
from tests.integration.test_review_consumer import intake_event


@pytest.fixture
async def review(database_url: str, amqp_url: str, topology: Topology) -> AsyncIterator[httpx.AsyncClient]:
    async with running(review_app(database_url, amqp_url, topology)) as client:
        yield client


def kipp(database_url: str, amqp_url: str, topology: Topology, *args: str) -> list[str]:
    env = {
        **os.environ,
        "KIPP_DATABASE_URL": database_url,
        "KIPP_AMQP_URL": amqp_url,
        "KIPP_PREFIX": topology.prefix,
    }
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", *args], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()


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

    other = kipp(database_url, amqp_url, topology, "dead-letters", "replay", "--id", "no-such-message")
    assert other[-1] == "0 dead letter(s) replayed"
    replayed = kipp(database_url, amqp_url, topology, "dead-letters", "replay")
    assert replayed == [
        f"replayed {envelope.event_id} to {topology.intake_exchange} (proposal.submitted)",
        "1 dead letter(s) replayed",
    ]
    await eventually(
        lambda: pool.fetchval("SELECT 1 FROM review.events WHERE event_id = $1", envelope.event_id)
    )
    assert kipp(database_url, amqp_url, topology, "dead-letters", "list")[-1].startswith("0 ")
