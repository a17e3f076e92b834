"""The resemblance projection: follows review.events (one subscription, like the status projection) and,
for every submission and revision, fingerprints the text, finds candidates by their LSH band keys in
SQL, compares each exactly and records the pairs that reach the threshold, all in the transaction that
moves its checkpoint.

Events are handled in log order, so every proposal already fingerprinted is earlier than the text in
hand: the text in hand is always the later one of a pair. A revision replaces its proposal's fingerprint
and the pairs in which it is the later text; pairs in which it was the earlier one keep the passages
they were found with. Nothing here reads a clock or anything about a person: the same events give the
same tables, which is what a rebuild relies on.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from services.review.eventstore.subscription import Subscription
from services.review.resemblance.compare import (
    PARAMETERS,
    Parameters,
    Resemblance,
    compare,
    declares_replication,
    fingerprint,
)
from services.review.resemblance.sketch import band_keys
from shared.db import Connection
from shared.worker import Worker

NAME = "resemblances"
CANDIDATES = 10  # the most band keys shared first; more than a reviewer would read
PASSAGES = 30  # kept per pair, in the later text's order

# What the projection reads of a text: the title, sections and what a resemblance shows beside them.
# Never the innovator or the documents: no personal data enters a fingerprint or these tables.
TEXT = """CASE WHEN data ? 'proposal' THEN jsonb_build_object(
    'title', data #> '{proposal,title}', 'sections', data #> '{proposal,sections}',
    'round', data #> '{proposal,round}', 'agency', data #> '{proposal,agency}',
    'region', data #> '{proposal,region}', 'replicates', data #> '{proposal,replicates}') END"""
SUBSCRIPTION = Subscription(NAME, f"position, stream_id, recorded_at, {TEXT} AS text", 200)


@dataclass(frozen=True)
class Tables:
    fingerprints: str = "review.resemblance_fingerprints"
    bands: str = "review.resemblance_bands"
    pairs: str = "review.resemblances"


LIVE = Tables()


async def candidates(
    conn: Connection | asyncpg.Pool, keys: list[int], exclude: UUID, bands: str = LIVE.bands
) -> list[UUID]:
    """The proposals that share band keys with `keys`, those sharing most first."""
    rows = await conn.fetch(
        f"SELECT proposal_id FROM {bands} WHERE key = ANY($1::bigint[]) AND proposal_id <> $2"
        " GROUP BY proposal_id ORDER BY count(*) DESC, proposal_id LIMIT $3",
        keys,
        exclude,
        CANDIDATES,
    )
    return [row["proposal_id"] for row in rows]


def pair_row(
    later: tuple[UUID, int], earlier: tuple[UUID, int], found: Resemblance, declared: bool
) -> tuple[Any, ...]:
    passages = [
        {
            "section": p.section,
            "text": p.text,
            "other_section": p.other_section,
            "other_text": p.other_text,
            "share": round(p.share, 3),
        }
        for p in found.passages[:PASSAGES]
    ]
    return (
        later[0],
        earlier[0],
        later[1],
        earlier[1],
        round(found.score, 4),
        declared,
        json.dumps({k: round(v, 4) for k, v in found.sections_of_later.items()}),
        json.dumps({k: round(v, 4) for k, v in found.sections_of_earlier.items()}),
        json.dumps(passages, ensure_ascii=False),
    )


async def record_text(
    conn: Connection,
    tables: Tables,
    proposal_id: UUID,
    position: int,
    recorded_at: datetime,
    text: Mapping[str, Any],
    parameters: Parameters = PARAMETERS,
) -> None:
    """Fingerprints one submitted or revised text and records what earlier texts it resembles."""
    mine = fingerprint(text, parameters)
    keys = sorted(set(band_keys(mine.sketch, parameters.rows))) if mine.units else []
    await conn.execute(f"DELETE FROM {tables.pairs} WHERE later_id = $1", proposal_id)
    await conn.execute(f"DELETE FROM {tables.bands} WHERE proposal_id = $1", proposal_id)
    found = await candidates(conn, keys, proposal_id, tables.bands) if keys else []
    rows = []
    if found:
        others = await conn.fetch(
            f"SELECT f.proposal_id, f.position, {TEXT.replace('data', 'e.data')} AS text"
            f" FROM {tables.fingerprints} AS f JOIN review.events AS e ON e.position = f.position"
            " WHERE f.proposal_id = ANY($1::uuid[]) ORDER BY f.proposal_id",
            found,
        )
        for other in others:
            resemblance = compare(mine, fingerprint(other["text"], parameters), parameters)
            if resemblance.score >= parameters.threshold:
                declared = declares_replication(text.get("replicates"), other["text"])
                rows.append(
                    pair_row(
                        (proposal_id, position),
                        (other["proposal_id"], other["position"]),
                        resemblance,
                        declared,
                    )
                )
    if rows:
        await conn.executemany(
            f"INSERT INTO {tables.pairs} (later_id, earlier_id, later_position, earlier_position, score,"
            " declared_replication, sections_of_later, sections_of_earlier, passages)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7::text::jsonb, $8::text::jsonb, $9::text::jsonb)",
            rows,
        )
    await conn.execute(
        f"INSERT INTO {tables.fingerprints}"
        " (proposal_id, position, recorded_at, round, title, agency, region)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (proposal_id) DO UPDATE SET"
        " position = excluded.position, recorded_at = excluded.recorded_at, round = excluded.round,"
        " title = excluded.title, agency = excluded.agency, region = excluded.region",
        proposal_id,
        position,
        recorded_at,
        text.get("round") if isinstance(text.get("round"), int) else None,
        str(text.get("title") or ""),
        text.get("agency") or {},
        text.get("region") or {},
    )
    if keys:
        await conn.execute(
            f"INSERT INTO {tables.bands} (key, proposal_id) SELECT unnest($1::bigint[]), $2",
            keys,
            proposal_id,
        )


def handler(tables: Tables = LIVE, parameters: Parameters = PARAMETERS) -> Any:
    async def handle(conn: Connection, events: list[asyncpg.Record]) -> None:
        for event in events:
            if event["text"] is not None:
                await record_text(
                    conn,
                    tables,
                    event["stream_id"],
                    event["position"],
                    event["recorded_at"],
                    event["text"],
                    parameters,
                )

    return handle


async def follow(conn: Connection, tables: Tables = LIVE, checkpoint: str = NAME) -> tuple[int, int]:
    """One pass of the projection: (its checkpoint after it, how many events it handled)."""
    return await replace(SUBSCRIPTION, name=checkpoint).process(conn, handler(tables))


class ResemblanceFinder:
    """Keeps the projection caught up in the background, poked after appends."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self.worker = Worker("resemblances", self._step)

    def poke(self) -> None:
        self.worker.poke()

    async def catch_up(self) -> int:
        while True:
            async with self._pool.acquire() as conn:
                checkpoint, handled = await follow(conn)
            if handled < SUBSCRIPTION.batch:
                return checkpoint

    async def _step(self) -> bool:
        async with self._pool.acquire() as conn:
            _, handled = await follow(conn)
        return handled == SUBSCRIPTION.batch
