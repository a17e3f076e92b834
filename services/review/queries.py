"""Reads of the status projection for the review API."""

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from services.review.domain.state import ProposalState
from services.review.views import proposal_view


@dataclass(frozen=True)
class ListFilter:
    status: str | None = None
    agency: str | None = None
    regency: str | None = None
    round: int | None = None


def _view(row: asyncpg.Record) -> dict[str, Any]:
    return proposal_view(row["proposal_id"], ProposalState.model_validate(row["state"]), row["version"])


async def get_view(pool: asyncpg.Pool, proposal_id: UUID) -> dict[str, Any] | None:
    row = await pool.fetchrow(
        "SELECT proposal_id, state, version FROM review.proposal_status WHERE proposal_id = $1", proposal_id
    )
    return _view(row) if row else None


async def list_views(
    pool: asyncpg.Pool, where: ListFilter, limit: int, before: int | None
) -> tuple[list[dict[str, Any]], int | None]:
    """Newest first. The cursor is the submission position of the last item of the page."""
    rows = await pool.fetch(
        "SELECT proposal_id, state, version, submitted_position FROM review.proposal_status"
        " WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR agency = $2)"
        " AND ($3::text IS NULL OR regency = $3) AND ($4::int IS NULL OR round = $4)"
        " AND ($5::bigint IS NULL OR submitted_position < $5)"
        " ORDER BY submitted_position DESC LIMIT $6",
        where.status,
        where.agency,
        where.regency,
        where.round,
        before,
        limit + 1,
    )
    page = rows[:limit]
    cursor = page[-1]["submitted_position"] if len(rows) > limit else None
    return [_view(row) for row in page], cursor
