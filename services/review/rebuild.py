"""Rebuilding the status projection from history, beside the live one, then swapping atomically.

Readers keep the live table until the swap. The swap holds the live checkpoint row (so no live projector
applies anything meanwhile) and an exclusive lock on the live table (readers wait a moment), applies
whatever arrived during the build, renames the new table into place and moves the checkpoint, in one
transaction: readers see either the old projection or the complete new one, never a half-built table.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

from services.review.projection import NAME, TABLE, project_batch
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
    async with pool.acquire() as conn:
        await conn.execute(f"CREATE TABLE review.{build} (LIKE {TABLE} INCLUDING ALL)")
        await conn.execute(
            "INSERT INTO review.projection_checkpoints (name, position) VALUES ($1, 0)", checkpoint
        )
        try:
            applied = await _catch_up(conn, f"review.{build}", checkpoint, progress)
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


async def _catch_up(conn: Connection, table: str, checkpoint: str, progress: Callable[[int], None]) -> int:
    total = 0
    while True:
        _, applied = await project_batch(conn, table, checkpoint, REBUILD_BATCH)
        total += applied
        progress(applied)
        if applied < REBUILD_BATCH:
            return total


async def _discard(conn: Connection, build: str, checkpoint: str) -> None:
    await conn.execute(f"DROP TABLE IF EXISTS review.{build}")
    await conn.execute("DELETE FROM review.projection_checkpoints WHERE name = $1", checkpoint)
