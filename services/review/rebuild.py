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
from uuid import UUID

import asyncpg

from services.review.eventstore.subscription import lock_checkpoint, move_checkpoint
from services.review.projection import (
    NAME,
    TABLE,
    FoldedBatch,
    ProjectedRow,
    fold_events,
    folded_batch,
    project_batch,
    read_events,
    stored_rows,
    write_folded,
)
from shared.db import Connection

# Larger than the live projection's batches: fewer round trips, and a proposal whose events fall in one
# batch is written once. 10,000 events with their texts stay well under 100 MB.
REBUILD_BATCH = 10_000
CONNECTIONS = 3  # reading, looking up rows, writing
FOLD_SLICE = 500  # events folded between two turns of the other stages (about 4 ms of CPU)


@dataclass(frozen=True)
class RebuildReport:
    events: int  # events applied to the new table
    position: int  # the checkpoint both tables agreed on at the swap


async def grant_as_live_table(conn: Connection, table: str, live: str = "proposal_status") -> None:
    """The new table gets the live one's grants (the services' runtime role reads and writes it); `live`
    names the live table in schema review."""
    grants = await conn.fetch(
        "SELECT quote_ident(grantee) AS grantee, string_agg(privilege_type, ', ') AS privileges"
        " FROM information_schema.role_table_grants WHERE table_schema = 'review'"
        " AND table_name = $1 AND grantee <> current_user GROUP BY grantee",
        live,
    )
    for grant in grants:
        await conn.execute(f"GRANT {grant['privileges']} ON {table} TO {grant['grantee']}")


async def rebuild_status_projection(
    pool: asyncpg.Pool, progress: Callable[[int], None] = lambda _: None
) -> RebuildReport:
    if pool.get_max_size() < CONNECTIONS:
        raise ValueError(
            f"a rebuild takes {CONNECTIONS} connections; the pool has at most {pool.get_max_size()}"
        )
    build = f"proposal_status_build_{uuid.uuid4().hex[:8]}"  # its indexes are named after it: unique
    checkpoint = f"rebuild_{build}"
    async with pool.acquire() as conn, pool.acquire() as reader, pool.acquire() as lookup:
        await conn.execute(f"CREATE TABLE review.{build} (LIKE {TABLE} INCLUDING ALL)")
        await grant_as_live_table(conn, f"review.{build}")
        await conn.execute(
            "INSERT INTO review.projection_checkpoints (name, position) VALUES ($1, 0)", checkpoint
        )
        try:
            with _fewer_collections():
                applied = await _replay(reader, lookup, conn, f"review.{build}", checkpoint, progress)
            async with conn.transaction():
                await lock_checkpoint(conn, NAME)
                await conn.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
                applied += await _catch_up(conn, f"review.{build}", checkpoint, progress)
                position = await lock_checkpoint(conn, checkpoint)
                await conn.execute(f"DROP TABLE {TABLE}")
                await conn.execute(f"ALTER TABLE review.{build} RENAME TO proposal_status")
                await move_checkpoint(conn, NAME, position)
                await conn.execute("DELETE FROM review.projection_checkpoints WHERE name = $1", checkpoint)
        except BaseException:
            await _discard(conn, build, checkpoint)
            raise
    return RebuildReport(applied, position)


async def _replay(
    reader: Connection,
    lookup: Connection,
    writer: Connection,
    table: str,
    checkpoint: str,
    progress: Callable[[int], None],
) -> int:
    """Applies the history up to its current end in a pipeline of three stages, each on its own connection:
    PostgreSQL reads the next batch and writes the last one while this process folds the one between.

    The only subtlety is a proposal whose events span batches: its row may not be committed yet when the
    next batch is folded. So every folded row stays in `unwritten` until its batch commits, and a batch
    starts from those rows, looking up in the table only proposals whose last write has committed."""
    batches: asyncio.Queue[list[asyncpg.Record]] = asyncio.Queue(maxsize=1)
    folded: asyncio.Queue[tuple[int, FoldedBatch] | None] = asyncio.Queue(maxsize=1)
    unwritten: dict[UUID, tuple[int, ProjectedRow]] = {}  # proposal -> (batch number, row folded there)

    async def read() -> None:
        position = 0  # the build's checkpoint starts at 0
        while True:
            events = await read_events(reader, position, REBUILD_BATCH)
            await batches.put(events)
            if len(events) < REBUILD_BATCH:
                return
            position = events[-1]["position"]

    async def write() -> int:
        written = 0
        while (item := await folded.get()) is not None:
            number, batch = item
            await write_folded(writer, table, checkpoint, batch)
            for proposal_id, _ in batch.rows:
                if unwritten[proposal_id][0] == number:  # not folded again since
                    del unwritten[proposal_id]
            written += batch.last - batch.first + 1
            progress(batch.last - batch.first + 1)
        return written

    async def fold() -> None:
        number = 0
        while events := await batches.get():
            streams = {event["stream_id"] for event in events}
            current = {p: unwritten[p][1].carried() for p in streams if p in unwritten}
            current.update(await stored_rows(lookup, table, streams - current.keys()))
            batch = await fold_in_slices(current, events)
            unwritten.update((proposal_id, (number, row)) for proposal_id, row in batch.rows)
            await folded.put((number, batch))
            number += 1
            if len(events) < REBUILD_BATCH:
                break
        await folded.put(None)

    # If one stage fails, the group cancels the others and waits for them, so no stage is left blocked
    # on a queue or still using its connection when the caller discards the build; the caller hears the
    # stage's own error.
    try:
        async with asyncio.TaskGroup() as stages:
            stages.create_task(read())
            stages.create_task(fold())
            writing = stages.create_task(write())
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return writing.result()


async def fold_in_slices(current: dict[UUID, ProjectedRow], events: list[asyncpg.Record]) -> FoldedBatch:
    """Folds a batch FOLD_SLICE events at a time, letting the other stages run between slices. Folding is
    the one stage that holds this process's event loop: the writer's and the reader's next round trips
    would otherwise wait for the whole batch's fold (tens of milliseconds), and the database sit idle."""
    for start in range(0, len(events), FOLD_SLICE):
        fold_events(current, events[start : start + FOLD_SLICE])
        await asyncio.sleep(0)
    return folded_batch(current, events)


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
    batch in hand. Reference counting frees all of it anyway."""
    threshold = gc.get_threshold()
    gc.set_threshold(50_000, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)


async def _discard(conn: Connection, build: str, checkpoint: str) -> None:
    # A write cancelled part way can leave its transaction open on this connection (its rollback was
    # cancelled too, and the driver may not know): the drop would then run inside it, and be rolled back
    # when the pool resets the connection. A ROLLBACK outside a transaction only warns.
    await conn.execute("ROLLBACK")
    await conn.execute(f"DROP TABLE IF EXISTS review.{build}")
    await conn.execute("DELETE FROM review.projection_checkpoints WHERE name = $1", checkpoint)
