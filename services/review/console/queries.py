"""Reads of the status projection that the console's lists need: summaries without the proposal's text or
anyone's personal data (the proposal page reads the whole proposal through the review's own views)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from services.review.queries import ListFilter, encode_cursor

SUMMARY_COLUMNS = (
    "proposal_id, status, round, agency, regency, submitted_at, version, body ->> 'title' AS title,"
    " (state ->> 'updated_at')::timestamptz AS updated_at, state ->> 'sinovik_reference' AS sinovik_reference"
)


@dataclass(frozen=True)
class Counts:
    """Proposals by (status, agency, round): enough for every count and every filter's choices."""

    groups: list[tuple[str, str, int, int]]

    def by_status(self, agency: str | None, round: int | None) -> dict[str, int]:
        counted: dict[str, int] = {}
        for status, group_agency, group_round, n in self.groups:
            if (agency is None or agency == group_agency) and (round is None or round == group_round):
                counted[status] = counted.get(status, 0) + n
        return counted

    def by_agency_and_status(self, round: int | None) -> dict[str, dict[str, int]]:
        table: dict[str, dict[str, int]] = {}
        for status, agency, group_round, n in self.groups:
            if round is None or round == group_round:
                row = table.setdefault(agency, {})
                row[status] = row.get(status, 0) + n
        return dict(sorted(table.items()))

    @property
    def agencies(self) -> list[str]:
        return sorted({agency for _, agency, _, _ in self.groups})

    @property
    def rounds(self) -> list[int]:
        return sorted({round for _, _, round, _ in self.groups}, reverse=True)


async def counts(pool: asyncpg.Pool) -> Counts:
    rows = await pool.fetch(
        "SELECT status, agency, round, count(*) AS n FROM review.proposal_status GROUP BY 1, 2, 3"
    )
    return Counts([(r["status"], r["agency"], r["round"], r["n"]) for r in rows])


async def queue_page(
    pool: asyncpg.Pool, where: ListFilter, limit: int, after: tuple[datetime, UUID] | None
) -> tuple[list[dict[str, Any]], str | None]:
    """The list the API answers (newest submission first, the same cursor), as summaries."""
    rows = await pool.fetch(
        f"SELECT {SUMMARY_COLUMNS} FROM review.proposal_status"
        " WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR agency = $2)"
        " AND ($3::int IS NULL OR round = $3)"
        " AND ($4::timestamptz IS NULL OR (submitted_at, proposal_id) < ($4, $5))"
        " ORDER BY submitted_at DESC, proposal_id DESC LIMIT $6",
        where.status,
        where.agency,
        where.round,
        after[0] if after else None,
        after[1] if after else None,
        limit + 1,
    )
    page = rows[:limit]
    cursor = encode_cursor(page[-1]["submitted_at"], page[-1]["proposal_id"]) if len(rows) > limit else None
    return [dict(row) for row in page], cursor


async def board_rows(pool: asyncpg.Pool, round: int | None) -> list[dict[str, Any]]:
    """Every proposal of the round (or all), by agency then title: the rows of the board's download."""
    rows = await pool.fetch(
        f"SELECT {SUMMARY_COLUMNS} FROM review.proposal_status WHERE ($1::int IS NULL OR round = $1)"
        " ORDER BY agency, body ->> 'title', proposal_id",
        round,
    )
    return [dict(row) for row in rows]
