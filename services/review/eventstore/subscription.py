"""Following the event store's global order from a checkpoint: the one way every reader of the log reads it.

A subscription is a named checkpoint row in review.projection_checkpoints and what its reader selects of
each event. A pass locks the checkpoint row, reads the next batch after it, hands the batch to the
reader's handler and moves the checkpoint to the batch's last position, all in one transaction: the
handler's own writes (a projection's rows) commit together with the checkpoint that records them, and a
handler that publishes (the status publisher) returns only once the broker confirmed, so the checkpoint
never moves past what was not delivered. Readers in several processes take turns on the row lock.

Appends are serialised and commit in position order (see the event store's migrations), so a batch read
after the checkpoint never has a hole that a late commit fills afterwards.

New readers of the log (the status projection, the status publisher, the rebuild, and those to come) are
a subscription and a handler, nothing more.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg

from shared.db import Connection

# What a reader selects of an event when it needs all of it (the columns RecordedEvent has).
EVENT_COLUMNS = (
    "position, stream_id, version, event_id, type, schema_version, data, metadata, recorded_at, hash"
)
# The same without the proposal's text, which most readers never need and which is most of the bytes.
EVENT_COLUMNS_WITHOUT_TEXT = EVENT_COLUMNS.replace(" data,", " data - 'proposal' AS data,")

# The log with each event's proposal text (`carried_text`, NULL for an event without one) taken out of the
# stored data once, for readers that select several things of the text. PostgreSQL fetches and decompresses
# a stored value anew for every operator applied to it; the lateral subquery (OFFSET 0 keeps it a step of
# its own) does it once per event. Server time of a 200,000-event read by EXPLAIN ANALYZE, the same values
# out: the status projection's summary 555-631 -> 450-467 ms, the resemblance finder's text 518-560 ->
# 291-355 ms.
EVENTS_WITH_TEXT = (
    "review.events CROSS JOIN LATERAL (SELECT data -> 'proposal' AS carried_text OFFSET 0) AS t"
)

Handler = Callable[[Connection, list[asyncpg.Record]], Awaitable[None]]


# A follower's own tables (and the log, in a new ledger) start empty and grow. PostgreSQL plans a prepared
# statement for its parameters five times, then may keep one generic plan, made for the tables as they
# were then: a statement prepared on nearly empty tables went on hashing whole tables by sequential scans
# long after they had grown (looking up ten fingerprints by id cost 1.6 ms per text in the end-to-end
# run, a third of the database's time). Planned for its parameters each time, the lookups stay index lookups
# (planning costs tens of microseconds). Set in the statement that locks the checkpoint, for the pass's
# transaction only: no round trip of its own, and the event store's append keeps its generic plan.
_LOCK = "SELECT position FROM review.projection_checkpoints WHERE name = $1 FOR UPDATE"
_LOCK_PLANNING_EACH_TIME = (
    "SELECT position, set_config('plan_cache_mode', 'force_custom_plan', true)"
    " FROM review.projection_checkpoints WHERE name = $1 FOR UPDATE"
)


async def lock_checkpoint(conn: Connection, name: str, plan_each_time: bool = False) -> int:
    """The subscription's position, its row locked until the transaction ends; with `plan_each_time`,
    the transaction's statements are planned for their parameters each time (see _LOCK_PLANNING_EACH_TIME)."""
    position = await conn.fetchval(_LOCK_PLANNING_EACH_TIME if plan_each_time else _LOCK, name)
    if position is None:
        raise LookupError(f"no checkpoint named {name!r}")
    return int(position)


async def move_checkpoint(conn: Connection, name: str, position: int) -> None:
    await conn.execute(
        "UPDATE review.projection_checkpoints SET position = $2 WHERE name = $1", name, position
    )


@dataclass(frozen=True)
class Subscription:
    name: str  # its checkpoint row
    columns: str = EVENT_COLUMNS  # what it reads of each event: a select list over `source`
    batch: int = 1000
    plan_each_time: bool = False  # the handler looks rows up in tables that grow (see lock_checkpoint)
    source: str = "review.events"  # the log, or the log joined laterally to what is taken out of each event

    async def read(self, conn: Connection, after: int, limit: int | None = None) -> list[asyncpg.Record]:
        """The events after position `after`, in order, as this subscription reads them."""
        return await conn.fetch(
            f"SELECT {self.columns} FROM {self.source} WHERE position > $1 ORDER BY position LIMIT $2",
            after,
            limit or self.batch,
        )

    async def process(self, conn: Connection, handle: Handler) -> tuple[int, int]:
        """One pass: the next batch handled and the checkpoint moved past it, in one transaction.
        Returns (the checkpoint after the pass, how many events it handled)."""
        async with conn.transaction():
            checkpoint = await lock_checkpoint(conn, self.name, self.plan_each_time)
            events = await self.read(conn, checkpoint)
            if events:
                await handle(conn, events)
                checkpoint = events[-1]["position"]
                await move_checkpoint(conn, self.name, checkpoint)
            return checkpoint, len(events)
