"""Review's status changes written into intake's view in batches: the follower handles up to its prefetch of
messages at once, and each waits for its own change, but the changes waiting together are written by one
UPDATE on one connection (one round trip and one statement instead of one each).

What a change does is what it did alone: the status is set unless a later review version is known, and
each caller hears whether its own change was applied. Two changes of one proposal never share a statement
(the later waits for the next), so they apply in the order they came. A change the table refuses (a value
it cannot hold) fails alone: a refused batch is written again change by change.
"""

import asyncio
import json
from uuid import UUID

import asyncpg

from services.intake.application import ApplyStatusChange
from shared.db import Connection

MAX_BATCH = 200

_UPDATE = (
    "UPDATE intake.proposals AS p SET status = u.status, review_version = u.version,"
    " status_detail = u.detail::jsonb, updated_at = u.at"
    " FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::timestamptz[])"
    " AS u(proposal_id, status, version, detail, at)"
    " WHERE p.proposal_id = u.proposal_id AND p.review_version < u.version"
    " RETURNING p.proposal_id"
)

Waiting = tuple[ApplyStatusChange, asyncio.Future[bool]]


def take_batch(waiting: list[Waiting]) -> tuple[list[Waiting], list[Waiting]]:
    """What one statement can write (each proposal once, at most MAX_BATCH), and what waits for the next."""
    batch: list[Waiting] = []
    later: list[Waiting] = []
    proposals: set[UUID] = set()
    for item in waiting:
        proposal_id = item[0].proposal_id
        if proposal_id in proposals or len(batch) == MAX_BATCH:
            later.append(item)
        else:
            proposals.add(proposal_id)
            batch.append(item)
    return batch, later


async def update(
    conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy, changes: list[ApplyStatusChange]
) -> set[UUID]:
    """Applies the changes (one per proposal); returns the proposals whose status was set."""
    rows = await conn.fetch(
        _UPDATE,
        [change.proposal_id for change in changes],
        [change.status.value for change in changes],
        [change.version for change in changes],
        [json.dumps(change.detail) for change in changes],
        [change.at for change in changes],
    )
    return {row["proposal_id"] for row in rows}


class StatusUpdates:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._waiting: list[Waiting] = []
        self._writing = False

    async def apply(self, change: ApplyStatusChange) -> bool:
        """True if the change was applied. The first caller to find nobody writing writes every batch that
        is waiting meanwhile, its own among them; the others wait for theirs."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((change, done))
        if not self._writing:
            self._writing = True
            try:
                while self._waiting:
                    batch, self._waiting = take_batch(self._waiting)
                    await self._write(batch)
            finally:
                self._writing = False
                # The writer was stopped (its message handler cancelled): nobody would write the rest.
                for _, left in self._waiting:
                    left.set_exception(RuntimeError("intake's status updates stopped"))
                self._waiting = []
        return await done

    async def _write(self, batch: list[Waiting]) -> None:
        try:
            async with self._pool.acquire() as conn:
                try:
                    applied = await update(conn, [change for change, _ in batch])
                except asyncpg.PostgresError:
                    if len(batch) == 1:
                        raise
                    await _one_by_one(conn, batch)  # only the change refused fails
                    return
        except Exception as error:  # the database is away: every caller of the batch hears it
            for _, done in batch:
                if not done.done():
                    done.set_exception(error)
            return
        except BaseException as error:
            for _, done in batch:
                if not done.done():
                    done.set_exception(RuntimeError(f"intake's status updates stopped: {error!r}"))
            raise
        for change, done in batch:
            done.set_result(change.proposal_id in applied)


async def _one_by_one(conn: Connection, batch: list[Waiting]) -> None:
    for change, done in batch:
        try:
            done.set_result(bool(await update(conn, [change])))
        except asyncpg.PostgresError as error:
            done.set_exception(error)
