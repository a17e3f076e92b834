"""Readers following the global position never skip an append that commits late.

Deterministic: one append transaction is held open by hand while later appends try to commit."""

import asyncio
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest

from services.review.eventstore.base import NewEvent, RecordedEvent
from services.review.eventstore.chain import GENESIS_HASH, chain_hash, sealed
from services.review.eventstore.postgres import PostgresEventStore
from services.review.projection import StatusProjector
from shared.db import connect
from tests.fixtures import a_proposal


def submitted() -> NewEvent:
    data = {"at": datetime.now(UTC).isoformat(), "proposal": a_proposal()}
    return NewEvent(uuid.uuid4(), "ProposalSubmitted", 1, data, {"actor": {"name": "test"}})


async def begin_append_and_hold(conn: asyncpg.Connection, stream: uuid.UUID, function: str) -> None:
    """Starts an append of one event at the head, exactly as the store's writer would, through `function`
    (the one for a batch or the one for a single event), and does not commit."""
    head = await conn.fetchrow(
        "SELECT position, hash, recorded_at FROM review.events ORDER BY position DESC LIMIT 1"
    )
    assert head is not None
    new = submitted()
    event = sealed(
        bytes(head["hash"]),
        RecordedEvent(
            head["position"] + 1,
            stream,
            1,
            new.event_id,
            new.type,
            1,
            new.data,
            new.metadata,
            datetime.now(UTC),
            b"",
        ),
    )
    # The columns the writer passes: 0 (its number in the batch), the expected version, then the event's.
    columns = [0, 0, event.position, stream, 1, event.event_id, event.type, 1]
    columns += [event.data, event.metadata, event.recorded_at, event.hash]
    await conn.execute("BEGIN")
    if function == "append_events":
        arguments: list[object] = [[value] for value in columns]
    else:
        arguments = columns[1:]
    placeholders = ", ".join(f"${n}" for n in range(1, len(arguments) + 3))
    outcome = await conn.fetchval(
        f"SELECT outcome FROM review.{function}({placeholders})",
        head["position"],
        bytes(head["hash"]),
        *arguments,
    )
    assert outcome == "ok"


@pytest.mark.parametrize("function", ["append_events", "append_event"])
async def test_a_reader_never_skips_an_append_that_commits_after_later_ones(
    pool: asyncpg.Pool, database_url: str, function: str
) -> None:
    store = PostgresEventStore(pool)
    projector = StatusProjector(pool)
    await store.append(uuid.uuid4(), 0, [submitted()])  # position 1

    slow = await connect(database_url)
    try:
        await begin_append_and_hold(slow, uuid.uuid4(), function)  # position 2, not committed
        later = [asyncio.create_task(store.append(uuid.uuid4(), 0, [submitted()])) for _ in range(3)]
        await asyncio.sleep(0.3)  # the later appends are now waiting to commit
        # They wait on the open append's transaction: position 2 is taken by it until it commits or
        # rolls back (the positions' primary key orders appends; migration 0012).
        waiting = await pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND wait_event = 'transactionid'"
        )
        assert waiting == 1

        assert [e.position async for e in store.read_all()] == [1]
        assert await projector.catch_up() == 1  # the projection does not move past the open append
        assert not any(task.done() for task in later)

        await slow.execute("COMMIT")
        results = await asyncio.gather(*later)
    finally:
        await slow.close()
        await store.stop()

    assert sorted(r.last_position for r in results) == [3, 4, 5]
    assert [e.position async for e in store.read_all()] == [1, 2, 3, 4, 5]
    assert await projector.catch_up() == 5
    assert await pool.fetchval("SELECT count(*) FROM review.proposal_status") == 5


@pytest.mark.parametrize("function", ["append_events", "append_event"])
@pytest.mark.parametrize("ending", ["COMMIT", "ROLLBACK"])
async def test_an_append_that_lost_the_race_for_its_position_is_written_on_the_head_as_it_ends_up(
    pool: asyncpg.Pool, database_url: str, function: str, ending: str
) -> None:
    # Another process holds position 2 open while this process's writer, believing position 1 is the head,
    # writes there too: it waits, and then chains after that append if it committed, or takes position 2
    # if it rolled back. Never beside it, never after a gap. (Through the same function as the other
    # process: one event, or a batch.)
    size = 1 if function == "append_event" else 2
    store = PostgresEventStore(pool)
    await store.append(uuid.uuid4(), 0, [submitted()])
    other = await connect(database_url)
    try:
        await begin_append_and_hold(other, uuid.uuid4(), function)
        events = [submitted() for _ in range(size)]
        losing = asyncio.create_task(store.append(uuid.uuid4(), 0, events))
        await asyncio.sleep(0.3)
        assert not losing.done()
        await other.execute(ending)
        result = await losing
    finally:
        await other.close()
        await store.stop()

    written = 1 + (ending == "COMMIT") + size
    assert result.last_position == written
    previous = GENESIS_HASH
    positions = []
    async for event in store.read_all():
        assert event.hash == chain_hash(previous, event)
        previous = event.hash
        positions.append(event.position)
    assert positions == list(range(1, written + 1))
