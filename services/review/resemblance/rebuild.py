"""Rebuilding the resemblance projection from history beside the live tables, then swapping atomically,
as the status projection's rebuild does (services/review/rebuild.py): readers keep the live tables until
the swap, which holds the live checkpoint and locks the live tables, applies what arrived during the
build, renames the new tables into place and moves the checkpoint, in one transaction."""

import uuid
from collections.abc import Callable
from dataclasses import fields

import asyncpg

from services.review.eventstore.subscription import lock_checkpoint, move_checkpoint
from services.review.rebuild import RebuildReport, grant_as_live_table
from services.review.resemblance.projection import LIVE, NAME, SUBSCRIPTION, Tables, follow
from shared.db import Connection


async def _replay(conn: Connection, tables: Tables, checkpoint: str, progress: Callable[[int], None]) -> int:
    total = 0
    while True:
        _, handled = await follow(conn, tables, checkpoint)
        total += handled
        progress(handled)
        if handled < SUBSCRIPTION.batch:
            return total


async def rebuild_resemblances(
    pool: asyncpg.Pool, progress: Callable[[int], None] = lambda _: None
) -> RebuildReport:
    suffix = f"build_{uuid.uuid4().hex[:8]}"
    names = [field.name for field in fields(Tables)]
    live = [getattr(LIVE, name) for name in names]
    build = Tables(*(f"{table}_{suffix}" for table in live))
    checkpoint = f"rebuild_{NAME}_{suffix}"
    async with pool.acquire() as conn:
        for live_table, build_table in zip(live, [getattr(build, name) for name in names], strict=True):
            await conn.execute(f"CREATE TABLE {build_table} (LIKE {live_table} INCLUDING ALL)")
            await grant_as_live_table(conn, build_table, live_table.removeprefix("review."))
        await conn.execute(
            "INSERT INTO review.projection_checkpoints (name, position) VALUES ($1, 0)", checkpoint
        )
        try:
            applied = await _replay(conn, build, checkpoint, progress)
            async with conn.transaction():
                await lock_checkpoint(conn, NAME)
                await conn.execute(f"LOCK TABLE {', '.join(live)} IN ACCESS EXCLUSIVE MODE")
                applied += await _replay(conn, build, checkpoint, progress)
                position = await lock_checkpoint(conn, checkpoint)
                for live_table, name in zip(live, names, strict=True):
                    await conn.execute(f"DROP TABLE {live_table}")
                    await conn.execute(
                        f"ALTER TABLE {getattr(build, name)} RENAME TO {live_table.removeprefix('review.')}"
                    )
                await move_checkpoint(conn, NAME, position)
                await conn.execute("DELETE FROM review.projection_checkpoints WHERE name = $1", checkpoint)
        except BaseException:
            await conn.execute(
                "ROLLBACK"
            )  # only warns outside a transaction (see services/review/rebuild.py)
            for name in names:
                await conn.execute(f"DROP TABLE IF EXISTS {getattr(build, name)}")
            await conn.execute("DELETE FROM review.projection_checkpoints WHERE name = $1", checkpoint)
            raise
    return RebuildReport(applied, position)
