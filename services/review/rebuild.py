"""Rebuilding the status projection from history, beside the live one, then swapping atomically.

Readers keep the live table until the swap. The swap holds the live checkpoint row (so no live projector
applies anything meanwhile) and an exclusive lock on the live table (readers wait a moment), applies
whatever arrived during the build, renames the new table into place and moves the checkpoint, in one
transaction: readers see either the old projection or the complete new one, never a half-built table.
"""

import asyncio
import contextlib
import gc
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import asyncpg

from services.review.projection import NAME, TABLE, apply_read_ahead, project_batch, read_events
from shared.db import Connection

# Larger than the live projection's batches: fewer round trips, and a proposal whose events fall in one
# batch is written once. 10,000 events with their texts stay well under 100 MB.
REBUILD_BATCH = 10_000


@dataclass(frozen=True)
class RebuildReport:
    events: int  # events applied to the new table
    position: int  # the checkpoint both tables agreed on at the swap


async def rebuild_status_projection(
    pool: asyncpg.Pool, progress: Callable[[int], None] = lambda _: None
) -> RebuildReport:
    build = f"proposal_status_build_{uuid.uuid4().hex[:8]}"  # its indexes are named after it: unique
    checkpoint = f"rebuild_{build}"
    async with pool.acquire() as conn, pool.acquire() as reader:
        await conn.execute(f"CREATE TABLE review.{build} (LIKE {TABLE} INCLUDING ALL)")
        await conn.execute(
            "INSERT INTO review.projection_checkpoints (name, position) VALUES ($1, 0)", checkpoint
        )
        try:
            with _fewer_collections():
                applied = await _read_ahead(reader, conn, f"review.{build}", checkpoint, progress)
            async with conn.transaction():
                await conn.execute(
                    "SELECT 1 FROM review.projection_checkpoints WHERE name = $1 FOR UPDATE", NAME
                )
                await conn.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
                applied += await _catch_up(conn, f"review.{build}", checkpoint, progress)
                position = await conn.fetchval(
                    "SELECT position FROM review.projection_checkpoints WHERE name = $1", checkpoint
                )
                await conn.execute(f"DROP TABLE {TABLE}")
                await conn.execute(f"ALTER TABLE review.{build} RENAME TO proposal_status")
                await conn.execute(
                    "UPDATE review.projection_checkpoints SET position = $2 WHERE name = $1", NAME, position
                )
                await conn.execute("DELETE FROM review.projection_checkpoints WHERE name = $1", checkpoint)
        except BaseException:
            await _discard(conn, build, checkpoint)
            raise
    return RebuildReport(applied, position)


async def _read_ahead(
    reader: Connection, writer: Connection, table: str, checkpoint: str, progress: Callable[[int], None]
) -> int:
    """Applies the history up to its current end, reading the next batch on `reader` while `writer`
    applies the last one: PostgreSQL's work of reading overlaps with this process's folding."""
    batches: asyncio.Queue[list[asyncpg.Record]] = asyncio.Queue(maxsize=1)  # bounds memory: two batches

    async def read() -> None:
        position = 0  # the build's checkpoint starts at 0
        while True:
            events = await read_events(reader, position, REBUILD_BATCH)
            await batches.put(events)
            if len(events) < REBUILD_BATCH:
                return
            position = events[-1]["position"]

    reading = asyncio.create_task(read())
    try:
        total = 0
        while events := await batches.get():
            await apply_read_ahead(writer, table, checkpoint, events)
            total += len(events)
            progress(len(events))
            if len(events) < REBUILD_BATCH:
                break
        await reading
        return total
    finally:
        reading.cancel()


async def _catch_up(conn: Connection, table: str, checkpoint: str, progress: Callable[[int], None]) -> int:
    total = 0
    while True:
        _, applied = await project_batch(conn, table, checkpoint, REBUILD_BATCH)
        total += applied
        progress(applied)
        if applied < REBUILD_BATCH:
            return total


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """A rebuild allocates millions of short-lived objects that form no cycles (records, dicts, states).
    At the default threshold the cyclic collector runs every 700 allocations and keeps rescanning the
    batch in hand: a quarter of the rebuild's time. Reference counting frees all of it anyway."""
    threshold = gc.get_threshold()
    gc.set_threshold(50_000, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)


async def _discard(conn: Connection, build: str, checkpoint: str) -> None:
    await conn.execute(f"DROP TABLE IF EXISTS review.{build}")
    await conn.execute("DELETE FROM review.projection_checkpoints WHERE name = $1", checkpoint)
