"""Fault drills: a few hundred submissions and decisions while the system is injured; nothing acknowledged
may be lost or recorded twice, the projection must equal a replay, and the outbox must drain."""

import asyncio
import json

import aio_pika
import asyncpg
import httpx
import pytest

from shared.contract import Topology
from tests.apps import drain_queue, eventually, queue_depth
from tests.faults.harness import Drill, drill_system, run_load, settle_and_check
from tests.keys import Keys

pytestmark = pytest.mark.faults


async def test_rabbitmq_stopped_mid_load(
    database_url: str, amqp_url: str, topology: Topology, keys: Keys
) -> None:
    async with drill_system("rabbitmq-stopped", database_url, amqp_url, topology, keys) as drill:

        async def stop_broker() -> None:
            drill.note("RabbitMQ cut off from both services for 5 s")
            await drill.broker.cut()
            await asyncio.gather(asyncio.sleep(5), readiness_is(drill, 503, "broker"))
            await drill.broker.restore()
            await readiness_is(drill, 200, "broker")

        await run_load(drill, injury=stop_broker)
        counts = await settle_and_check(drill)
    assert counts["lost"] == 0


async def test_postgresql_restarted_mid_load(
    database_url: str, amqp_url: str, topology: Topology, keys: Keys
) -> None:
    async with drill_system("postgresql-restarted", database_url, amqp_url, topology, keys) as drill:

        async def restart_database() -> None:
            drill.note("PostgreSQL connections dropped and refused for 3 s (a restart, as clients see it)")
            await drill.db.cut()
            await asyncio.gather(asyncio.sleep(3), readiness_is(drill, 503, "database"))
            await drill.db.restore()
            await readiness_is(drill, 200, "database")

        await run_load(drill, injury=restart_database)
        counts = await settle_and_check(drill)
    assert counts["lost"] == 0


async def test_review_killed_mid_batch(
    database_url: str, amqp_url: str, topology: Topology, keys: Keys
) -> None:
    async with drill_system("review-killed", database_url, amqp_url, topology, keys) as drill:

        async def kill_review() -> None:
            drill.note("review killed with SIGKILL while consuming and deciding, started again 1 s later")
            drill.review.kill()
            await asyncio.sleep(1)
            await drill.review.start()

        await run_load(drill, injury=kill_review)
        counts = await settle_and_check(drill)
    assert counts["lost"] == 0


async def test_intake_killed_between_accepting_and_publishing(
    database_url: str, amqp_url: str, topology: Topology, keys: Keys
) -> None:
    async with drill_system("intake-killed", database_url, amqp_url, topology, keys) as drill:
        # With the broker cut off, intake accepts (202) but cannot publish: everything waits in its outbox.
        drill.note("broker cut off; 100 submissions accepted into the outbox; intake killed with SIGKILL")
        await drill.broker.cut()
        await run_load(drill, numbers=range(100), decide=False)
        assert await outbox_size(drill) == 100
        drill.intake.kill()
        await drill.broker.restore()
        drill.note("broker back; intake started again")
        await drill.intake.start()
        await run_load(drill, numbers=range(100, 300))
        counts = await settle_and_check(drill)
    assert counts["acknowledged submissions"] == 300
    assert counts["lost"] == 0


async def test_duplicates_and_poison_on_two_competing_review_processes(
    database_url: str, amqp_url: str, topology: Topology, keys: Keys
) -> None:
    copies = f"{topology.prefix}.drill-copies"
    connection = await aio_pika.connect(amqp_url)
    async with (
        connection,
        drill_system("duplicates-and-poison", database_url, amqp_url, topology, keys, reviews=2) as drill,
    ):
        channel = await connection.channel(publisher_confirms=True)
        intake_exchange = await channel.get_exchange(topology.intake_exchange)
        copy_queue = await channel.declare_queue(copies)  # a copy of every intake event, to send again
        await copy_queue.bind(intake_exchange, routing_key="proposal.*")
        try:
            await run_load(drill)
            originals = await drain_queue(amqp_url, copies)  # all published: every one was verified
        finally:
            await copy_queue.delete(if_unused=False, if_empty=False)
        drill.note(
            f"every one of {len(originals)} intake events delivered twice more; 25 poison messages mixed in"
        )
        poison = [
            b"not json",
            b"{}",
            b'{"event_id": 1}',
            json.dumps({"event_type": "proposal.exploded"}).encode(),
            b"\xff",
        ]
        for round_ in range(2):
            for original in originals:
                again = aio_pika.Message(  # a copy as the broker redelivers it: signed as intake signed it
                    original.body,
                    headers=original.headers,
                    message_id=original.message_id,
                    type=original.type,
                )
                await intake_exchange.publish(again, routing_key=original.routing_key or "proposal.submitted")
            for number, body in enumerate(poison * (3 if round_ == 0 else 2)):
                await intake_exchange.publish(
                    aio_pika.Message(body, message_id=f"poison-{round_}-{number}"),
                    routing_key="proposal.submitted",
                )
        # Settled when every poison message is dead-lettered and the queue has stayed empty for a second.
        await eventually(lambda: has_at_least(amqp_url, topology.review_dead_letter_queue, 25), within=60)
        await eventually(lambda: stays_empty(amqp_url, topology.review_queue), within=60)
        counts = await settle_and_check(drill)
        dead = await drain_queue(amqp_url, topology.review_dead_letter_queue)
    assert len(originals) == counts["acknowledged submissions"] == 300
    assert len(dead) == 25
    assert counts["lost"] == 0


async def outbox_size(drill: Drill) -> int:
    conn = await asyncpg.connect(drill.database_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM intake.outbox"))
    finally:
        await conn.close()


async def has_at_least(amqp_url: str, queue: str, expected: int) -> bool:
    return await queue_depth(amqp_url, queue) >= expected


async def stays_empty(amqp_url: str, queue: str, seconds: float = 1.0) -> bool:
    if await queue_depth(amqp_url, queue) > 0:
        return False
    await asyncio.sleep(seconds)
    return await queue_depth(amqp_url, queue) == 0


async def readiness_is(drill: Drill, status: int, dependency: str) -> None:
    """Both services' /readyz answer `status`, naming the dependency when it is away."""
    async with httpx.AsyncClient(timeout=5) as client:
        for service in (drill.intake, drill.review):

            async def answers(url: str = service.url) -> bool:
                answer = await client.get(f"{url}/readyz")
                away = answer.json().get(dependency) == "unreachable"
                return answer.status_code == status and away == (status == 503)

            await eventually(answers, within=15)
    print(f"[{drill.name}] /readyz answered {status} on both services ({dependency})")
