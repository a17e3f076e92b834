"""A message review's consumer cannot record yet waits on the broker, in a retry queue, not in the
consumer: the consumer takes the next message meanwhile. Its attempts are counted across the round trip,
and after the last one it is dead-lettered with its reason."""

import dataclasses
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.review.application import ReviewService
from services.review.consumer import MAX_REFUSALS, attach_consumer
from services.review.eventstore.postgres import PostgresEventStore
from services.review.metrics import INTAKE_MESSAGES
from services.review.settings import ReviewSettings
from shared.broker import declare_topology, new_broker
from shared.contract import PROPOSAL_REVISED, PROPOSAL_SUBMITTED, PROPOSAL_WITHDRAWN, Topology
from shared.redelivery import ATTEMPTS, DEAD_LETTER_REASON, ROUTING_KEY
from shared.rounds import load_rounds
from shared.signing import MessageVerifier
from tests.apps import drain_queue, eventually, publish_envelope, queue_depth
from tests.fixtures import a_proposal
from tests.integration.test_review_consumer import intake_event, stream_types


async def consuming(pool: asyncpg.Pool, amqp_url: str, topology: Topology) -> AsyncIterator[None]:
    """Review's consumer alone, taking one message at a time: a message it held while waiting would stop
    every other."""
    settings = ReviewSettings()
    store = PostgresEventStore(pool)
    await store.start()
    broker = new_broker(amqp_url)
    service = ReviewService(store, load_rounds(settings.rounds_dir))
    verifier = MessageVerifier.from_files("intake", settings.intake_public_key_file)
    attach_consumer(broker, topology, service, 1, verifier)
    await broker.connect()
    await declare_topology(broker, topology)
    await broker.start()
    try:
        yield
    finally:
        await broker.stop()
        await store.stop()


@pytest.fixture
async def patient(pool: asyncpg.Pool, amqp_url: str, topology: Topology) -> AsyncIterator[Topology]:
    """Retries a second apart (the test's broker names, so the fixture deletes them afterwards)."""
    waits = dataclasses.replace(topology, retry_delays=(1.0, 1.0, 1.0))
    async for _ in consuming(pool, amqp_url, waits):
        yield waits


@pytest.fixture
async def hasty(pool: asyncpg.Pool, amqp_url: str, topology: Topology) -> AsyncIterator[Topology]:
    """Retries that hardly wait, so that the last attempt comes soon."""
    waits = dataclasses.replace(topology, retry_delays=(0.05, 0.1))
    async for _ in consuming(pool, amqp_url, waits):
        yield waits


async def waiting_on_the_broker(amqp_url: str, topology: Topology) -> int:
    return sum([await queue_depth(amqp_url, name) for name in topology.retry_queues(topology.review_queue)])


async def test_a_message_that_must_wait_waits_on_the_broker_while_the_consumer_takes_the_next(
    patient: Topology, amqp_url: str, pool: asyncpg.Pool
) -> None:
    retried_before = INTAKE_MESSAGES.labels("retried")._value.get()
    late, other = uuid.uuid4(), uuid.uuid4()
    withdrawn = intake_event(PROPOSAL_WITHDRAWN, late, {"reason": "digabung"})  # its submission comes later
    await publish_envelope(amqp_url, patient, withdrawn)
    assert await eventually(lambda: waiting_on_the_broker(amqp_url, patient)) == 1

    # One message at a time, and the withdrawal cannot be recorded: still the next one is.
    await publish_envelope(amqp_url, patient, intake_event(PROPOSAL_SUBMITTED, other, a_proposal()))
    assert await eventually(lambda: stream_types(pool, other)) == ["ProposalSubmitted"]
    assert await stream_types(pool, late) == []

    await publish_envelope(amqp_url, patient, intake_event(PROPOSAL_SUBMITTED, late, a_proposal()))

    async def both() -> list[str] | None:
        types = await stream_types(pool, late)
        return types if len(types) == 2 else None

    assert await eventually(both, within=20) == ["ProposalSubmitted", "ProposalWithdrawn"]
    assert INTAKE_MESSAGES.labels("retried")._value.get() > retried_before
    assert await waiting_on_the_broker(amqp_url, patient) == 0
    assert await drain_queue(amqp_url, patient.review_dead_letter_queue) == []
    first = await pool.fetchval("SELECT position FROM review.events WHERE stream_id = $1", other)
    assert first == 1  # recorded while the withdrawal waited, before its own submission


async def test_after_the_last_attempt_a_message_is_dead_lettered_with_its_reason_and_attempts(
    hasty: Topology, amqp_url: str, pool: asyncpg.Pool
) -> None:
    proposal_id = uuid.uuid4()
    await publish_envelope(amqp_url, hasty, intake_event(PROPOSAL_SUBMITTED, proposal_id, a_proposal()))
    await eventually(lambda: stream_types(pool, proposal_id))
    # No revision was asked for: the lifecycle refuses it on every attempt.
    revised = intake_event(PROPOSAL_REVISED, proposal_id, a_proposal(title="Versi kedua"))
    await publish_envelope(amqp_url, hasty, revised)

    dead = await eventually(lambda: drain_queue(amqp_url, hasty.review_dead_letter_queue), within=30)
    assert len(dead) == 1
    letter = dead[0]
    assert letter.message_id == str(revised.event_id)
    assert str(letter.headers[DEAD_LETTER_REASON]).startswith(f"refused after {MAX_REFUSALS} attempts")
    assert letter.headers[ATTEMPTS] == MAX_REFUSALS
    assert letter.headers[ROUTING_KEY] == PROPOSAL_REVISED  # where a replay sends it, not the retry route
    assert await stream_types(pool, proposal_id) == ["ProposalSubmitted"]
    assert await waiting_on_the_broker(amqp_url, hasty) == 0
