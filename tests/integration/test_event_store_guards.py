"""The database itself keeps history append-only, and the schema migrates idempotently."""

import asyncio
import contextlib
import random
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest

from services.review.eventstore.base import AppendResult, NewEvent
from services.review.eventstore.chain import GENESIS_HASH, chain_hash
from services.review.eventstore.postgres import PostgresEventStore, _Head, half_of_the_callers
from shared.db import migrate, shipped_migrations
from tests import services


@pytest.fixture
async def recorded(pool: asyncpg.Pool) -> asyncpg.Pool:
    store = PostgresEventStore(pool)
    await store.append(uuid.uuid4(), 0, [NewEvent(uuid.uuid4(), "ProposalSubmitted", 1, {"a": 1}, {})])
    await store.stop()
    return pool


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE review.events SET data = '{\"a\": 2}'",
        "DELETE FROM review.events",
        "TRUNCATE review.events",
    ],
)
async def test_the_database_refuses_to_change_history(recorded: asyncpg.Pool, statement: str) -> None:
    with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
        await recorded.execute(statement)
    assert await recorded.fetchval("SELECT data FROM review.events") == {"a": 1}


async def test_migrating_again_changes_nothing(database_url: str) -> None:
    assert await migrate(database_url) == []


async def test_two_processes_migrating_at_once_apply_each_migration_once(postgres_server_url: str) -> None:
    name = services.unique_name("migrate")
    admin = await asyncpg.connect(postgres_server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = services.database_url(postgres_server_url, name)
        first, second = await asyncio.gather(migrate(url), migrate(url))
        assert sorted(first + second) == sorted(f"{m.schema}/{m.name}" for m in shipped_migrations())
        assert first == [] or second == []
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_an_append_the_database_refuses_fails_alone_not_its_whole_batch(pool: asyncpg.Pool) -> None:
    store = PostgresEventStore(pool)
    unstorable = NewEvent(uuid.uuid4(), "ProposalSubmitted", 1, {"notes": "nul \u0000 here"}, {})
    appends = [
        store.append(uuid.uuid4(), 0, [NewEvent(uuid.uuid4(), "ProposalSubmitted", 1, {}, {})])
        for _ in range(5)
    ]
    outcomes = await asyncio.gather(
        *appends[:2], store.append(uuid.uuid4(), 0, [unstorable]), *appends[2:], return_exceptions=True
    )
    await store.stop()
    assert isinstance(outcomes[2], asyncpg.DataError)
    assert [o.recorded for o in outcomes if not isinstance(o, BaseException)] == [True] * 5
    assert await pool.fetchval("SELECT count(*) FROM review.events") == 5


def submitted(**data: object) -> NewEvent:
    return NewEvent(uuid.uuid4(), "ProposalSubmitted", 1, dict(data), {})


async def assert_one_chain(pool: asyncpg.Pool, events: int) -> None:
    """Positions 1..events with no gap, each event chained to the one before, times never going back."""
    previous, last_time = GENESIS_HASH, None
    positions: list[int] = []
    async for event in PostgresEventStore(pool).read_all():
        assert event.hash == chain_hash(previous, event), f"position {event.position} is not chained"
        assert last_time is None or event.recorded_at >= last_time
        previous, last_time = event.hash, event.recorded_at
        positions.append(event.position)
    assert positions == list(range(1, events + 1))


@pytest.mark.parametrize("events_per_append", [1, 3], ids=["one-event", "several-events"])
async def test_two_writers_on_one_database_keep_one_chain(pool: asyncpg.Pool, events_per_append: int) -> None:
    # Two review processes: each writer believes in the head it saw last, and the other one's appends
    # make that belief stale. The stale append is written again on the real head, never beside it.
    first, second = PostgresEventStore(pool), PostgresEventStore(pool)
    streams = [uuid.uuid4() for _ in range(6)]
    try:
        for number, stream in enumerate(streams):
            store = first if number % 2 == 0 else second
            events = [submitted(n=n) for n in range(events_per_append)]
            result = await store.append(stream, 0, events)
            assert result.last_position == (number + 1) * events_per_append
    finally:
        await first.stop()
        await second.stop()
    await assert_one_chain(pool, len(streams) * events_per_append)


async def test_writers_on_one_database_appending_at_once_keep_one_chain(pool: asyncpg.Pool) -> None:
    # Three review processes taking appends at the same time, some of them redeliveries of an event
    # another process already recorded: each event once, one gap-free chain.
    stores = [PostgresEventStore(pool) for _ in range(3)]
    rng = random.Random(7)

    async def work(number: int) -> int:
        store, recorded = stores[number], 0
        for _ in range(60):
            stream, size = uuid.uuid4(), rng.choice([1, 1, 1, 2])
            result = await store.append(stream, 0, [submitted() for _ in range(size)])
            recorded += size
            if rng.random() < 0.3:
                decision = submitted()
                await store.append(stream, result.stream_version, [decision])
                again = await stores[(number + 1) % 3].append(stream, result.stream_version, [decision])
                assert again.recorded is False
                recorded += 1
        return recorded

    try:
        counts = await asyncio.gather(*(work(number) for number in range(3)))
    finally:
        for store in stores:
            await store.stop()
    await assert_one_chain(pool, sum(counts))


@pytest.mark.parametrize("events_per_append", [1, 3], ids=["one-event", "several-events"])
@pytest.mark.parametrize("belief", ["wrong-hash", "ahead"])
async def test_a_writer_that_believes_a_wrong_head_is_corrected_not_obeyed(
    pool: asyncpg.Pool, events_per_append: int, belief: str
) -> None:
    # As after a failover that lost the last commits while the writer kept what it believed: the head
    # check under the lock must make it write on the real head, not beside it or after a gap.
    store = PostgresEventStore(pool)
    try:
        await store.append(uuid.uuid4(), 0, [submitted()])
        real = store._head
        assert real is not None
        store._head = (
            _Head(real.position, b"\x01" * 32, real.recorded_at)
            if belief == "wrong-hash"
            else _Head(real.position + 4, real.hash, real.recorded_at)
        )
        result = await store.append(uuid.uuid4(), 0, [submitted(n=n) for n in range(events_per_append)])
    finally:
        await store.stop()
    assert result.last_position == 1 + events_per_append
    await assert_one_chain(pool, 1 + events_per_append)


async def test_callers_appending_at_once_are_written_in_halves_on_one_chain(pool: asyncpg.Pool) -> None:
    # Sixteen callers, each appending again as soon as its append is answered: half of them are written
    # while the other half make their next append, so no batch holds more than eight, and the halves
    # still make one gap-free chain.
    batches: list[int] = []
    store = PostgresEventStore(pool, on_commit=lambda events: batches.append(len(events)))

    async def caller() -> None:
        for _ in range(5):
            await store.append(uuid.uuid4(), 0, [submitted()])

    try:
        await asyncio.gather(*(caller() for _ in range(16)))
    finally:
        await store.stop()
    assert sum(batches) == 80
    assert max(batches) == 8
    await assert_one_chain(pool, 80)


def small() -> NewEvent:
    return NewEvent(uuid.uuid4(), "ProposalSubmitted", 1, {"a": 1}, {})


async def holding_the_table(database_url: str) -> asyncpg.Connection:
    """A connection whose open transaction holds review.events so that no append can write (an INSERT
    waits for the lock): an append is then in flight for as long as the test wants."""
    holder = await asyncpg.connect(database_url)
    await holder.execute("BEGIN; LOCK TABLE review.events IN EXCLUSIVE MODE")
    return holder


async def until_waiting_on_the_lock(pool: asyncpg.Pool) -> None:
    for _ in range(200):
        if await pool.fetchval(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'review.events'::regclass"
        ):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no append came to wait on the table")


@dataclass
class LoneAppend:
    store: PostgresEventStore
    holder: asyncpg.Connection  # COMMIT on it lets the append through
    task: asyncio.Task[AppendResult]


@contextlib.asynccontextmanager
async def a_lone_append_in_flight(
    pool: asyncpg.Pool, database_url: str, on_commit: Callable[[Sequence[Any]], None] | None = None
) -> AsyncIterator[LoneAppend]:
    """A store whose writer is idle (one append made), and a caller's own append of it (position 2)
    waiting on the table."""
    store = PostgresEventStore(pool, on_commit=on_commit)
    await store.append(uuid.uuid4(), 0, [small()])  # starts the writer, which is idle afterwards
    holder = await holding_the_table(database_url)
    try:
        task = asyncio.create_task(store.append(uuid.uuid4(), 0, [small()]))
        await until_waiting_on_the_lock(pool)
        yield LoneAppend(store, holder, task)
    finally:
        await holder.close()
        await store.stop()


async def test_callers_arriving_while_a_lone_caller_writes_its_own_append_are_written_after_it(
    pool: asyncpg.Pool, database_url: str
) -> None:
    # A caller that finds the writer idle writes its own append in its own turn; callers arriving
    # meanwhile queue for the writer, which waits for that write to end before it uses the connection
    # (two writes on one connection at once would fail: asyncpg refuses a second operation in progress).
    batches: list[int] = []

    def count(events: Sequence[Any]) -> None:
        batches.append(len(events))

    async with a_lone_append_in_flight(pool, database_url, count) as lone:
        later = [asyncio.create_task(lone.store.append(uuid.uuid4(), 0, [small()])) for _ in range(3)]
        await asyncio.sleep(0.2)
        assert not lone.task.done()
        assert not any(task.done() for task in later)
        await lone.holder.execute("COMMIT")
        results = await asyncio.gather(lone.task, *later)
    assert results[0].last_position == 2
    assert sorted(result.last_position for result in results[1:]) == [3, 4, 5]
    assert batches == [1, 1, 2, 1]  # the lone one alone, then the writer's halves of the three
    await assert_one_chain(pool, 5)


async def test_a_caller_cancelled_during_its_own_write_leaves_the_store_writing_on_one_chain(
    pool: asyncpg.Pool, database_url: str
) -> None:
    async with a_lone_append_in_flight(pool, database_url) as lone:
        lone.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await lone.task
        await lone.holder.execute("COMMIT")
        results = [await lone.store.append(uuid.uuid4(), 0, [small()]) for _ in range(3)]
    recorded = await pool.fetchval("SELECT count(*) FROM review.events")
    assert recorded in (4, 5)  # whether the cancelled append was written is the database's to say
    assert [result.last_position for result in results] == [recorded - 2, recorded - 1, recorded]
    await assert_one_chain(pool, recorded)


async def test_stopping_the_store_waits_for_a_caller_writing_its_own_append(
    pool: asyncpg.Pool, database_url: str
) -> None:
    async with a_lone_append_in_flight(pool, database_url) as lone:
        stopping = asyncio.create_task(lone.store.stop())
        await asyncio.sleep(0.2)
        assert not stopping.done()  # the connection is the caller's until its write ends
        await lone.holder.execute("COMMIT")
        result = await lone.task
        await stopping
    assert result.last_position == 2
    await assert_one_chain(pool, 2)


@pytest.mark.parametrize(
    ("waiting", "written", "taken"),
    [(1, 0, 1), (1, 1, 1), (2, 0, 1), (3, 0, 2), (16, 0, 8), (8, 8, 8), (400, 8, 204)],
)
def test_a_batch_takes_half_of_the_callers_waiting_or_just_answered(
    waiting: int, written: int, taken: int
) -> None:
    assert half_of_the_callers(waiting, written) == taken
