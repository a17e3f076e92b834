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
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from services.review.eventstore.subscription import EVENTS_WITH_TEXT, Subscription
from services.review.resemblance.compare import (
    PARAMETERS,
    Fingerprint,
    Parameters,
    Resemblance,
    Unit,
    compare,
    declares_replication,
    fingerprint,
)
from services.review.resemblance.sketch import band_keys
from shared.db import Connection
from shared.worker import Worker

NAME = "resemblances"
CANDIDATES = 10  # the most band keys shared first; more than a reviewer would read
# Of the proposals sharing one band key, the first this many by id are counted (see candidates).
SHARERS_PER_KEY = 200
PASSAGES = 30  # kept per pair, in the later text's order

# What the projection reads of a text: the title, sections and what a resemblance shows beside them.
# Never the innovator or the documents: no personal data enters a fingerprint or these tables.
# Made from the text taken out of the stored data once (EVENTS_WITH_TEXT).
TEXT = """CASE WHEN carried_text IS NOT NULL THEN jsonb_build_object(
    'title', carried_text -> 'title', 'sections', carried_text -> 'sections',
    'round', carried_text -> 'round', 'agency', carried_text -> 'agency',
    'region', carried_text -> 'region', 'replicates', carried_text -> 'replicates') END"""
SUBSCRIPTION = Subscription(
    NAME,
    f"position, stream_id, version, recorded_at, hash, {TEXT} AS text",
    200,
    plan_each_time=True,
    source=EVENTS_WITH_TEXT,
)


@dataclass(frozen=True)
class Tables:
    fingerprints: str = "review.resemblance_fingerprints"
    bands: str = "review.resemblance_bands"
    pairs: str = "review.resemblances"


LIVE = Tables()


# The name of a text's set of band keys (migration 0014 names the sets recorded before it the same way).
KEY_SET = "md5(array_to_string({keys}::bigint[], ','))::uuid"


async def candidates(
    conn: Connection | asyncpg.Pool, keys: list[int], exclude: UUID, tables: Tables = LIVE
) -> list[UUID]:
    """The proposals that share band keys with `keys`, those sharing most first (by id among equals).

    Copies first: earlier texts with exactly these keys share all of them, the most any text can (every
    text has one key per band), so when there are CANDIDATES of them they are the answer, found by their
    key set in one index lookup (migration 0014 says what that saves). A set is named from its keys
    sorted, each once, as record_text makes and records them.

    Otherwise by the keys: a key shared by more than SHARERS_PER_KEY proposals (a text copied that often)
    counts for the first of them by id only: the ones the order by id picks among equals anyway, as long
    as that is more than CANDIDATES. Without the bound, each lookup of a text copied thousands of times
    read every band row of every copy."""
    same = await _copies(conn, _IDS, keys, exclude, tables)
    if len(same) == CANDIDATES:
        return [row["proposal_id"] for row in same]
    return await _sharing_keys(conn, keys, exclude, tables)


async def earlier_texts(
    conn: Connection, keys: list[int], exclude: UUID, tables: Tables = LIVE
) -> list[asyncpg.Record]:
    """The candidates (see candidates) with what record_text compares and names of them, by id. Copies
    found by their key set come with it in the same query: for a copied text, one round trip fewer."""
    same = await _copies(conn, _TEXTS, keys, exclude, tables)
    if len(same) == CANDIDATES:
        return same
    found = await _sharing_keys(conn, keys, exclude, tables)
    if not found:
        return []
    return await conn.fetch(
        _TEXTS.format(fingerprints=tables.fingerprints)
        + " WHERE f.proposal_id = ANY($1::uuid[]) ORDER BY f.proposal_id",
        found,
    )


# What candidates and earlier_texts select of each earlier text.
_IDS = "SELECT f.proposal_id FROM {fingerprints} AS f"
_TEXTS = (
    "SELECT f.proposal_id, f.position, f.title, f.region, e.hash FROM {fingerprints} AS f"
    " JOIN review.events AS e ON e.position = f.position"
)


async def _copies(
    conn: Connection | asyncpg.Pool, select: str, keys: list[int], exclude: UUID, tables: Tables
) -> list[asyncpg.Record]:
    """The first CANDIDATES earlier texts by id with exactly these keys (the same key set)."""
    return await conn.fetch(
        select.format(fingerprints=tables.fingerprints)
        + f" WHERE f.key_set = {KEY_SET.format(keys='$1')} AND f.proposal_id <> $2"
        " ORDER BY f.proposal_id LIMIT $3",
        keys,
        exclude,
        CANDIDATES,
    )


async def _sharing_keys(
    conn: Connection | asyncpg.Pool, keys: list[int], exclude: UUID, tables: Tables
) -> list[UUID]:
    """The proposals sharing most of these keys (by id among equals), each key counted for at most
    SHARERS_PER_KEY of its sharers (see candidates)."""
    rows = await conn.fetch(
        "SELECT c.proposal_id FROM (SELECT DISTINCT unnest($1::bigint[]) AS key) AS k CROSS JOIN LATERAL ("
        f" SELECT b.proposal_id FROM {tables.bands} AS b WHERE b.key = k.key AND b.proposal_id <> $2"
        " ORDER BY b.proposal_id LIMIT $4) AS c"
        " GROUP BY c.proposal_id ORDER BY count(*) DESC, c.proposal_id LIMIT $3",
        keys,
        exclude,
        CANDIDATES,
        SHARERS_PER_KEY,
    )
    return [row["proposal_id"] for row in rows]


def evidence(found: Resemblance) -> tuple[float, str, str, str]:
    """What a pair records of a comparison, as it is written: the score, each side's sections' scores and
    the passages (at most PASSAGES), the last three as JSON text."""
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
        round(found.score, 4),
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
    event_hash: bytes,
    parameters: Parameters = PARAMETERS,
    replaces: bool = True,
) -> None:
    """Fingerprints one submitted or revised text (of the event at `position`, whose chain hash is
    `event_hash`) and records what earlier texts it resembles. `replaces` is false for a proposal's first
    text (its stream's first event), which has nothing recorded to replace: after the lookup of earlier
    texts, a submission's pairs, fingerprint and keys are written in one statement."""
    mine = fingerprint(text, parameters)
    keys = sorted(set(band_keys(mine.sketch, parameters.rows))) if mine.units else []
    if replaces:  # a revision: the pairs in which its earlier text was the later one go, and its keys
        await conn.execute(
            f"WITH pairs AS (DELETE FROM {tables.pairs} WHERE later_id = $1)"
            f" DELETE FROM {tables.bands} WHERE proposal_id = $1",
            proposal_id,
        )
    others = await earlier_texts(conn, keys, proposal_id, tables) if keys else []
    rows = []
    if others:
        prints = await _fingerprints_of(conn, others, parameters)
        # Earlier texts that are copies of one another have equal units, and the comparison depends on
        # nothing else: each distinct text is compared once (a text copied many times is every later
        # copy's candidate ten times over).
        compared: dict[tuple[Unit, ...], tuple[float, str, str, str] | None] = {}
        for other in others:
            units = prints[other["position"]].units
            if units not in compared:
                resemblance = compare(mine, prints[other["position"]], parameters)
                compared[units] = evidence(resemblance) if resemblance.score >= parameters.threshold else None
            found_evidence = compared[units]
            if found_evidence is not None:
                earlier = {"title": other["title"], "region": other["region"]}  # what it names
                declared = declares_replication(text.get("replicates"), earlier)
                rows.append((other["proposal_id"], other["position"], declared, *found_evidence))
    # Its pairs, its fingerprint's row and its keys, in one statement.
    earlier_id, earlier_position, declared_replication, score, of_later, of_earlier, passages = (
        [list(column) for column in zip(*rows, strict=True)] if rows else [[]] * 7
    )
    await conn.execute(
        f"WITH pairs AS (INSERT INTO {tables.pairs} (later_id, earlier_id, later_position, earlier_position,"
        " declared_replication, score, sections_of_later, sections_of_earlier, passages)"
        " SELECT $1::uuid, p.earlier_id, $2::bigint, p.earlier_position, p.declared, p.score,"
        " p.of_later::jsonb, p.of_earlier::jsonb, p.passages::jsonb"
        " FROM unnest($9::uuid[], $10::bigint[], $11::boolean[], $12::double precision[], $13::text[],"
        " $14::text[], $15::text[])"
        " AS p(earlier_id, earlier_position, declared, score, of_later, of_earlier, passages)),"
        f" fingerprint AS (INSERT INTO {tables.fingerprints}"
        " (proposal_id, position, recorded_at, round, title, agency, region, key_set)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7,"
        f" CASE WHEN $8::bigint[] <> '{{}}' THEN {KEY_SET.format(keys='$8')} END)"
        " ON CONFLICT (proposal_id) DO UPDATE SET"
        " position = excluded.position, recorded_at = excluded.recorded_at, round = excluded.round,"
        " title = excluded.title, agency = excluded.agency, region = excluded.region,"
        " key_set = excluded.key_set)"
        f" INSERT INTO {tables.bands} (key, proposal_id) SELECT unnest($8::bigint[]), $1",
        proposal_id,
        position,
        recorded_at,
        text.get("round") if isinstance(text.get("round"), int) else None,
        str(text.get("title") or ""),
        text.get("agency") or {},
        text.get("region") or {},
        keys,
        earlier_id,
        earlier_position,
        declared_replication,
        score,
        of_later,
        of_earlier,
        passages,
    )
    if keys:
        REMEMBERED.remember(event_hash, parameters, mine)


class RememberedFingerprints:
    """Fingerprints this process made lately, by the chain hash of the event whose text they are of (it
    names that text in that history; a position would name another text in another database). A new
    text is compared with up to ten earlier ones, mostly the same few (a text copied many times is every
    later copy's candidate), and making a fingerprint is the projection's largest cost: remembered, each
    text is fingerprinted about once instead of once for every later text it is compared with. Bounded
    by their shingles (about 70 bytes each); the least recently used go first."""

    def __init__(self, shingles: int = 200_000) -> None:
        self._budget = shingles
        self._held = 0
        self._prints: OrderedDict[tuple[bytes, Parameters], Fingerprint] = OrderedDict()

    def get(self, event_hash: bytes, parameters: Parameters) -> Fingerprint | None:
        found = self._prints.get((event_hash, parameters))
        if found is not None:
            self._prints.move_to_end((event_hash, parameters))
        return found

    def remember(self, event_hash: bytes, parameters: Parameters, made: Fingerprint) -> None:
        key = (event_hash, parameters)
        if key in self._prints or made.weight > self._budget:
            return
        self._prints[key] = made
        self._held += made.weight
        while self._held > self._budget:
            _, oldest = self._prints.popitem(last=False)
            self._held -= oldest.weight


REMEMBERED = RememberedFingerprints()


async def _fingerprints_of(
    conn: Connection, earlier: list[asyncpg.Record], parameters: Parameters
) -> dict[int, Fingerprint]:
    """The fingerprints of the earlier texts (their events' `position` and `hash`), by position:
    remembered, or made from their events."""
    prints: dict[int, Fingerprint] = {}
    missing: dict[int, bytes] = {}
    for row in earlier:
        made = REMEMBERED.get(bytes(row["hash"]), parameters)
        if made is None:
            missing[row["position"]] = bytes(row["hash"])
        else:
            prints[row["position"]] = made
    if missing:
        for row in await conn.fetch(
            f"SELECT position, {TEXT} AS text FROM {EVENTS_WITH_TEXT} WHERE position = ANY($1::bigint[])",
            list(missing),
        ):
            prints[row["position"]] = made = fingerprint(row["text"], parameters)
            REMEMBERED.remember(missing[row["position"]], parameters, made)
    return prints


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
                    bytes(event["hash"]),
                    parameters,
                    replaces=event["version"] > 1,
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
