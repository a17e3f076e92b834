"""Reads of the status projection for the review API."""

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from services.review.personal_data import KEY_COLUMNS, KEY_JOIN, shown_body, shown_innovator
from services.review.views import view_from_stored, view_json_from_stored
from shared.access import CALLER_COLUMNS, CALLER_FROM, CALLER_IS_KEY, Caller, caller_in, key_hash
from shared.personal_data.master_key import MasterKey
from shared.times import in_utc


@dataclass(frozen=True)
class ListFilter:
    status: str | None = None
    agency: str | None = None
    regency: str | None = None
    round: int | None = None


def _view(row: asyncpg.Record, master: MasterKey) -> dict[str, Any]:
    body = shown_body(master, row["body"], row)
    return view_from_stored(row["proposal_id"], row["state"], body, row["version"])


async def get_view(pool: asyncpg.Pool, proposal_id: UUID, master: MasterKey) -> dict[str, Any] | None:
    row = await pool.fetchrow(
        f"SELECT p.proposal_id, p.state, p.body, p.version, {KEY_COLUMNS}"
        f" FROM review.proposal_status AS p {KEY_JOIN} WHERE p.proposal_id = $1",
        proposal_id,
    )
    return _view(row, master) if row else None


@dataclass(frozen=True)
class ViewJson:
    content: bytes
    version: int


# The fields of the text a view shows beside it (see views.view_from_stored).
_SUMMARY = (
    "jsonb_build_object("
    + ", ".join(
        f"'{field}', p.body -> '{field}'"
        for field in ("round", "group", "category", "title", "agency", "region")
    )
    + ")"
)


async def get_view_as(
    pool: asyncpg.Pool, key: str, proposal_id: UUID, master: MasterKey
) -> tuple[Caller | None, ViewJson | None]:
    """Who holds `key` and the proposal's view as JSON, in one round trip: the API's hottest read pays one
    query instead of an authentication query and then a read (the person's wrapped key joined to it)."""
    row = await pool.fetchrow(
        f"SELECT {CALLER_COLUMNS}, p.proposal_id, p.state, p.version, {_SUMMARY} AS summary,"
        f" (p.body - 'innovator')::text AS body_json, p.body -> 'innovator' AS innovator, {KEY_COLUMNS}"
        f" FROM {CALLER_FROM} LEFT JOIN review.proposal_status AS p ON p.proposal_id = $2 {KEY_JOIN}"
        f" WHERE {CALLER_IS_KEY}",
        key_hash(key),
        proposal_id,
    )
    if row is None or row["proposal_id"] is None:
        return caller_in(row), None
    innovator = shown_innovator(master, row["innovator"] or {}, row)
    content = view_json_from_stored(
        row["proposal_id"], row["state"], row["summary"], row["version"], row["body_json"], innovator
    )
    return caller_in(row), ViewJson(content, row["version"])


def encode_cursor(submitted_at: datetime, proposal_id: UUID) -> str:
    return base64.urlsafe_b64encode(f"{submitted_at.isoformat()}|{proposal_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    """Raises ValueError for anything this API did not hand out (a time without an offset, or one out of
    range in UTC, included: the database would refuse it)."""
    moment, _, proposal_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
    return in_utc(datetime.fromisoformat(moment)), UUID(proposal_id)


async def list_views(
    pool: asyncpg.Pool,
    where: ListFilter,
    limit: int,
    after: tuple[datetime, UUID] | None,
    master: MasterKey,
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest submission first; the cursor is the (submitted_at, proposal_id) of the page's last item."""
    rows = await pool.fetch(
        f"SELECT p.proposal_id, p.state, p.body, p.version, p.submitted_at, {KEY_COLUMNS}"
        f" FROM review.proposal_status AS p {KEY_JOIN}"
        " WHERE ($1::text IS NULL OR p.status = $1) AND ($2::text IS NULL OR p.agency = $2)"
        " AND ($3::text IS NULL OR p.regency = $3) AND ($4::int IS NULL OR p.round = $4)"
        " AND ($5::timestamptz IS NULL OR (p.submitted_at, p.proposal_id) < ($5, $6))"
        " ORDER BY p.submitted_at DESC, p.proposal_id DESC LIMIT $7",
        where.status,
        where.agency,
        where.regency,
        where.round,
        after[0] if after else None,
        after[1] if after else None,
        limit + 1,
    )
    page = rows[:limit]
    cursor = encode_cursor(page[-1]["submitted_at"], page[-1]["proposal_id"]) if len(rows) > limit else None
    return [_view(row, master) for row in page], cursor


async def stats(pool: asyncpg.Pool) -> dict[str, Any]:
    """Counts of proposals by current status, by agency and by round."""
    rows = await pool.fetch(
        "SELECT 'status' AS dimension, status AS key, count(*) AS n FROM review.proposal_status"
        " GROUP BY status"
        " UNION ALL SELECT 'agency', agency, count(*) FROM review.proposal_status GROUP BY agency"
        " UNION ALL SELECT 'round', round::text, count(*) FROM review.proposal_status GROUP BY round"
    )
    counts: dict[str, dict[str, int]] = {"status": {}, "agency": {}, "round": {}}
    for row in rows:
        counts[row["dimension"]][row["key"]] = row["n"]
    return {
        "total": sum(counts["status"].values()),
        "by_status": dict(sorted(counts["status"].items())),
        "by_agency": dict(sorted(counts["agency"].items())),
        "by_round": dict(sorted(counts["round"].items())),
    }
