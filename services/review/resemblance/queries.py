"""Reading the resemblance projection: a proposal's resemblances (for the API and the console), and the
pairs across the ledger, newest first."""

import base64
from typing import Any
from uuid import UUID

import asyncpg

# What an item shows of the other proposal: its text as it was compared (the event at that position).
_OTHER = """e.data #>> '{proposal,title}' AS title, e.data #> '{proposal,agency}' AS agency,
    e.data #> '{proposal,region}' AS region, e.data #> '{proposal,round}' AS round,
    e.recorded_at, e.position"""


# The pairs a proposal ($1) is in, seen from its side; the other's text is joined only for those shown.
_PAIRS = """WITH pairs AS (
    SELECT 'earlier' AS relation, r.earlier_id AS other_id, r.earlier_position AS other_position, r.score,
           r.declared_replication, r.sections_of_later AS sections, r.passages
    FROM review.resemblances AS r WHERE r.later_id = $1
    UNION ALL
    SELECT 'later', r.later_id, r.later_position, r.score, r.declared_replication, r.sections_of_earlier,
           r.passages
    FROM review.resemblances AS r WHERE r.earlier_id = $1)"""


async def proposal_known(pool: asyncpg.Pool | asyncpg.Connection, proposal_id: UUID) -> bool:
    return bool(await pool.fetchval("SELECT 1 FROM review.events WHERE stream_id = $1 LIMIT 1", proposal_id))


async def resemblances_of(
    pool: asyncpg.Pool | asyncpg.Connection, proposal_id: UUID, limit: int | None = None
) -> list[dict[str, Any]]:
    """Every pair the proposal is in (or the `limit` highest), seen from its side: the other proposal,
    whether it came earlier or later, the score, this proposal's sections' scores, and the passages (this
    proposal's sentence as `text`, the other's as `other_text`). Highest score first."""
    rows = await pool.fetch(
        f"""{_PAIRS}
            SELECT top.*, {_OTHER}
            FROM (SELECT * FROM pairs ORDER BY score DESC, other_position LIMIT $2) AS top
            JOIN review.events AS e ON e.position = top.other_position
            ORDER BY top.score DESC, top.other_position""",
        proposal_id,
        limit,
    )
    return [_item(row) for row in rows]


async def resemblance_count(pool: asyncpg.Pool | asyncpg.Connection, proposal_id: UUID) -> int:
    """How many pairs the proposal is in, without reading any of them."""
    return int(await pool.fetchval(f"{_PAIRS} SELECT count(*) FROM pairs", proposal_id))


def _item(row: asyncpg.Record) -> dict[str, Any]:
    later_side = row["relation"] == "earlier"  # the other is earlier, so this proposal is the later one
    passages = [
        {
            "section": p["section"] if later_side else p["other_section"],
            "text": p["text"] if later_side else p["other_text"],
            "other_section": p["other_section"] if later_side else p["section"],
            "other_text": p["other_text"] if later_side else p["text"],
        }
        for p in row["passages"]
    ]
    return {
        "proposal_id": str(row["other_id"]),
        "title": row["title"],
        "agency": row["agency"],
        "region": row["region"],
        "round": row["round"],
        "recorded_at": row["recorded_at"].isoformat(),
        "position": row["position"],
        "relation": row["relation"],
        "score": row["score"],
        "sections": row["sections"],
        "declared_replication": row["declared_replication"],
        "passages": passages,
    }


def encode_cursor(position: int, earlier_id: UUID) -> str:
    return base64.urlsafe_b64encode(f"{position}|{earlier_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[int, UUID]:
    """Raises ValueError for anything this API did not hand out."""
    position, _, earlier_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
    value = int(position)
    if not 0 <= value < 2**62:
        raise ValueError("position out of range")
    return value, UUID(earlier_id)


def _summary(prefix: str, row: asyncpg.Record) -> dict[str, Any]:
    return {
        "proposal_id": str(row[f"{prefix}_id"]),
        "title": row[f"{prefix}_title"],
        "agency": row[f"{prefix}_agency"],
        "region": row[f"{prefix}_region"],
        "round": row[f"{prefix}_round"],
        "recorded_at": row[f"{prefix}_recorded_at"].isoformat(),
        "position": row[f"{prefix}_position"],
    }


async def list_resemblances(
    pool: asyncpg.Pool | asyncpg.Connection,
    min_score: float,
    round: int | None,
    limit: int,
    after: tuple[int, UUID] | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Pairs across the ledger, newest later text first; `round` is the later proposal's round."""
    sides = ", ".join(
        f"{alias}.data #>> '{{proposal,title}}' AS {side}_title, {alias}.data #> '{{proposal,agency}}' AS"
        f" {side}_agency, {alias}.data #> '{{proposal,region}}' AS {side}_region, {alias}.data #>"
        f" '{{proposal,round}}' AS {side}_round, {alias}.recorded_at AS {side}_recorded_at, {alias}.position"
        f" AS {side}_position"
        for side, alias in (("later", "l"), ("earlier", "e"))
    )
    rows = await pool.fetch(
        f"""SELECT r.later_id, r.earlier_id, r.score, r.declared_replication, {sides}
            FROM review.resemblances AS r
            JOIN review.events AS l ON l.position = r.later_position
            JOIN review.events AS e ON e.position = r.earlier_position
            WHERE r.score >= $1
              AND ($2::int IS NULL OR l.data #> '{{proposal,round}}' = to_jsonb($2::int))
              AND ($3::bigint IS NULL OR (r.later_position, r.earlier_id) < ($3, $4))
            ORDER BY r.later_position DESC, r.earlier_id DESC LIMIT $5""",
        min_score,
        round,
        after[0] if after else None,
        after[1] if after else None,
        limit + 1,
    )
    page = rows[:limit]
    items = [
        {
            "later": _summary("later", row),
            "earlier": _summary("earlier", row),
            "score": row["score"],
            "declared_replication": row["declared_replication"],
        }
        for row in page
    ]
    last = page[-1] if page else None
    cursor = encode_cursor(last["later_position"], last["earlier_id"]) if last and len(rows) > limit else None
    return items, cursor
