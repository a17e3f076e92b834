"""The status projection: follows the global order of review.events into review.proposal_status.

Every review process runs one. Each pass locks the checkpoint row, so passes from several processes take
turns and every event is applied exactly once, in order, together with the checkpoint that records it.
"""

import asyncio
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from services.review.domain.events import event_from_stored
from services.review.domain.lifecycle import evolve
from services.review.domain.state import ProposalState
from services.review.eventstore.postgres import row_to_event
from shared.db import Connection
from shared.worker import Worker

NAME = "proposal_status"
TABLE = "review.proposal_status"
BATCH = 1000

_UPSERT = """
INSERT INTO review.proposal_status
    (proposal_id, status, round, agency, regency, submitted_at, version, last_position, state)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (proposal_id) DO UPDATE SET
    status = excluded.status, round = excluded.round, agency = excluded.agency, regency = excluded.regency,
    version = excluded.version, last_position = excluded.last_position, state = excluded.state
"""


@dataclass
class _Row:
    state: ProposalState | None
    version: int = 0
    last_position: int = 0


async def project_batch(conn: Connection, table: str = TABLE, checkpoint_name: str = NAME) -> tuple[int, int]:
    """Applies the next batch of events after the checkpoint. Returns (checkpoint, events applied)."""
    async with conn.transaction():
        checkpoint = await conn.fetchval(
            "SELECT position FROM review.projection_checkpoints WHERE name = $1 FOR UPDATE", checkpoint_name
        )
        rows = await conn.fetch(
            "SELECT * FROM review.events WHERE position > $1 ORDER BY position LIMIT $2", checkpoint, BATCH
        )
        if not rows:
            return checkpoint, 0
        events = [row_to_event(row) for row in rows]
        streams = list({event.stream_id for event in events})
        current = {
            row["proposal_id"]: _Row(ProposalState.model_validate(row["state"]), row["version"])
            for row in await conn.fetch(
                f"SELECT proposal_id, state, version FROM {table} WHERE proposal_id = ANY($1)",
                streams,
            )
        }
        for event in events:
            row = current.setdefault(event.stream_id, _Row(None))
            row.state = evolve(row.state, event_from_stored(event.type, event.schema_version, event.data))
            row.version = event.version
            row.last_position = event.position
        await conn.executemany(
            _UPSERT.replace(TABLE, table),
            [_upsert_args(proposal_id, row) for proposal_id, row in current.items() if row.last_position],
        )
        checkpoint = events[-1].position
        await conn.execute(
            "UPDATE review.projection_checkpoints SET position = $2 WHERE name = $1",
            checkpoint_name,
            checkpoint,
        )
        return checkpoint, len(events)


def _upsert_args(proposal_id: UUID, row: _Row) -> tuple[Any, ...]:
    assert row.state is not None
    body = row.state.proposal
    return (
        proposal_id,
        row.state.status.value,
        body["round"],
        body["agency"]["name"],
        body["region"]["regency"],
        row.state.submitted_at,
        row.version,
        row.last_position,
        row.state.model_dump(mode="json"),
    )


class StatusProjector:
    """Keeps the projection caught up in the background; callers can wait until it has seen a position."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._progress = asyncio.Condition()
        self.position = 0
        self.worker = Worker("status-projection", self._catch_up_step)

    def poke(self) -> None:
        self.worker.poke()

    async def wait_for(self, position: int, within: float = 5.0) -> bool:
        """True once the projection includes `position` (read-your-writes for a decision just made)."""
        self.poke()
        async with self._progress:
            try:
                await asyncio.wait_for(self._progress.wait_for(lambda: self.position >= position), within)
            except TimeoutError:
                return False
        return True

    async def catch_up(self) -> int:
        async with self._pool.acquire() as conn:
            while True:
                checkpoint, applied = await project_batch(conn)
                async with self._progress:
                    self.position = checkpoint
                    self._progress.notify_all()
                if applied < BATCH:
                    return checkpoint

    async def _catch_up_step(self) -> bool:
        await self.catch_up()
        return False
