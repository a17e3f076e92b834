"""Appends: the event store (ordering, hash chain, version checks) against raw INSERTs of the same rows
into a plain table with the same indexes, at the same concurrency and durability."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

from benchmarks.common import Operation, Rate, interleaved, scratch_database
from services.review.eventstore.base import NewEvent
from services.review.eventstore.postgres import PostgresEventStore
from shared.db import Connection, create_pool

RAW_TABLE = """
CREATE TABLE raw_events (
    position       bigserial PRIMARY KEY,
    stream_id      uuid NOT NULL,
    version        integer NOT NULL,
    event_id       uuid NOT NULL UNIQUE,
    type           text NOT NULL,
    schema_version integer NOT NULL,
    data           jsonb NOT NULL,
    metadata       jsonb NOT NULL,
    recorded_at    timestamptz NOT NULL,
    hash           bytea NOT NULL,
    UNIQUE (stream_id, version)
)
"""
METHODS = {"l": "lz4", "p": "pglz"}


async def create_raw_table(pool: asyncpg.Pool) -> None:
    """The reference's table, its JSON columns compressed as the event store's are (lz4 where the server
    has it): the reference stores the same bytes the same way, so the comparison is of the appends alone."""
    await pool.execute(RAW_TABLE)
    for column in await pool.fetch(
        "SELECT attname, attcompression::text FROM pg_attribute WHERE attrelid = 'review.events'::regclass"
        " AND attname IN ('data', 'metadata') AND attcompression <> ''"
    ):
        name, method = column["attname"], METHODS[column["attcompression"]]
        await pool.execute(f"ALTER TABLE raw_events ALTER COLUMN {name} SET COMPRESSION {method}")


RAW_INSERT = (
    "INSERT INTO raw_events (stream_id, version, event_id, type, schema_version, data, metadata, recorded_at,"
    " hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
)

DATA: dict[str, Any] = {
    "at": "2023-04-10T08:00:00Z",
    "checklist": {
        "implementation_statement": {"passed": True, "note": ""},
        "initiator_decree": {"passed": True, "note": ""},
    },
    "notes": "dokumen lengkap, ditandatangani kepala dinas",
}
METADATA: dict[str, Any] = {
    "actor": {"id": str(uuid.uuid4()), "name": "Rina (Bagian Organisasi)", "role": "reviewer"},
    "correlation_id": str(uuid.uuid4()),
    "causation_id": None,
    "source": "review-api",
}


def new_event() -> NewEvent:
    return NewEvent(uuid.uuid4(), "ProposalVerified", 2, DATA, METADATA)


@contextlib.asynccontextmanager
async def started_store(url: str) -> AsyncIterator[PostgresEventStore]:
    """The event store as review runs it, warmed up by ten appends (its statements prepared)."""
    pool = await create_pool(url, min_size=2, max_size=4)
    store = PostgresEventStore(pool)
    await store.start()
    try:
        await asyncio.gather(*(store.append(uuid.uuid4(), 0, [new_event()]) for _ in range(10)))
        yield store
    finally:
        await store.stop()
        await pool.close()


@contextlib.asynccontextmanager
async def raw_connections(url: str, writers: int) -> AsyncIterator[Sequence[Connection]]:
    """The reference's table, and a connection of its own for each writer."""
    pool = await create_pool(url, min_size=writers, max_size=writers)
    await create_raw_table(pool)
    connections = [await pool.acquire() for _ in range(writers)]
    try:
        yield connections
    finally:
        for connection in connections:
            await pool.release(connection)
        await pool.close()


def store_appends(store: PostgresEventStore, writers: int) -> Operation:
    """Each writer appends to its own stream, one event at a time."""
    streams = [uuid.uuid4() for _ in range(writers)]

    async def append(writer: int, number: int) -> None:
        await store.append(streams[writer], number, [new_event()])

    return append


def raw_appends(connections: Sequence[Connection]) -> Operation:
    """The same rows by plain INSERTs, each writer on its own stream and connection."""
    streams = [uuid.uuid4() for _ in connections]
    now = datetime.now(UTC)

    async def insert(writer: int, number: int) -> None:
        event = new_event()
        await connections[writer].execute(
            RAW_INSERT,
            streams[writer],
            number + 1,
            event.event_id,
            event.type,
            2,
            DATA,
            METADATA,
            now,
            b"h" * 32,
        )

    return insert


async def measure(writers: int, per_writer: int) -> tuple[Rate, Rate]:
    """(product, raw), by turns, each side in a database of its own."""
    async with (
        scratch_database() as raw_url,
        scratch_database() as product_url,
        raw_connections(raw_url, writers) as connections,
        started_store(product_url) as store,
    ):
        sides = {"raw": raw_appends(connections), "product": store_appends(store, writers)}
        rates = await interleaved(sides, writers, per_writer)
    return rates["product"], rates["raw"]


async def synchronous_commit(url: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        return str(await conn.fetchval("SHOW synchronous_commit"))
    finally:
        await conn.close()
