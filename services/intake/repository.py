"""Intake's tables: a proposal and the event announcing it are written in one transaction."""

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from shared.contract import Envelope
from shared.db import Connection


async def record_submission(pool: asyncpg.Pool, envelope: Envelope, body: dict[str, Any]) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO intake.proposals (proposal_id, body, status, submitted_at, updated_at)"
            " VALUES ($1, $2, 'submitted', $3, $3)",
            envelope.proposal_id,
            body,
            envelope.occurred_at,
        )
        await add_to_outbox(conn, envelope)


async def add_to_outbox(conn: Connection, envelope: Envelope) -> None:
    await conn.execute(
        "INSERT INTO intake.outbox (event_id, proposal_id, routing_key, envelope) VALUES ($1, $2, $3, $4)",
        envelope.event_id,
        envelope.proposal_id,
        envelope.event_type,
        envelope.model_dump(mode="json"),
    )


def proposal_view(row: asyncpg.Record) -> dict[str, Any]:
    submitted_at: datetime = row["submitted_at"]
    updated_at: datetime = row["updated_at"]
    return {
        "proposal_id": str(row["proposal_id"]),
        "status": row["status"],
        "submitted_at": submitted_at.isoformat(),
        "updated_at": updated_at.isoformat(),
        "proposal": row["body"],
    }


async def get_proposal(pool: asyncpg.Pool, proposal_id: UUID) -> dict[str, Any] | None:
    row = await pool.fetchrow(
        "SELECT proposal_id, status, submitted_at, updated_at, body FROM intake.proposals"
        " WHERE proposal_id = $1",
        proposal_id,
    )
    return proposal_view(row) if row else None
