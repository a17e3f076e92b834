"""Appends: the event store (ordering, hash chain, version checks) against raw INSERTs of the same rows
into a plain table with the same indexes, at the same concurrency and durability."""

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg

from benchmarks.common import Rate, scratch_database
from services.review.eventstore.base import NewEvent
from services.review.eventstore.postgres import PostgresEventStore
from shared.db import create_pool

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


async def product_appends(url: str, writers: int, per_writer: int) -> Rate:
    pool = await create_pool(url, min_size=2, max_size=4)
    store = PostgresEventStore(pool)
    await store.start()
    latencies: list[float] = []

    async def writer() -> None:
        stream = uuid.uuid4()
        for version in range(per_writer):
            began = time.perf_counter()
            await store.append(stream, version, [new_event()])
            latencies.append(time.perf_counter() - began)

    await asyncio.gather(*(store.append(uuid.uuid4(), 0, [new_event()]) for _ in range(10)))  # warm up
    latencies.clear()
    began = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(writers)))
    seconds = time.perf_counter() - began
    await store.stop()
    await pool.close()
    return Rate(writers * per_writer, seconds, latencies)


async def raw_inserts(url: str, writers: int, per_writer: int) -> Rate:
    pool = await create_pool(url, min_size=writers, max_size=writers)
    await create_raw_table(pool)
    latencies: list[float] = []
    now = datetime.now(UTC)

    async def writer() -> None:
        stream = uuid.uuid4()
        async with pool.acquire() as conn:
            for version in range(1, per_writer + 1):
                event = new_event()
                began = time.perf_counter()
                await conn.execute(
                    RAW_INSERT, stream, version, event.event_id, event.type, 2, DATA, METADATA, now, b"h" * 32
                )
                latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(writers)))
    seconds = time.perf_counter() - began
    await pool.close()
    return Rate(writers * per_writer, seconds, latencies)


async def measure(writers: int, per_writer: int) -> tuple[Rate, Rate]:
    async with scratch_database() as url:
        raw = await raw_inserts(url, writers, per_writer)
    async with scratch_database() as url:
        product = await product_appends(url, writers, per_writer)
    return product, raw


async def synchronous_commit(url: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        return str(await conn.fetchval("SHOW synchronous_commit"))
    finally:
        await conn.close()
