"""Rebuild: replaying the history into the status projection, against a raw scan that decodes the same
rows. Each side runs in a child process, so its peak RSS is its own."""

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from benchmarks.common import SERVER_URL, peak_rss_mb
from services.review.eventstore.base import NewEvent
from services.review.eventstore.postgres import PostgresEventStore
from services.review.rebuild import rebuild_status_projection
from shared.db import create_pool
from shared.personal_data.fields import DataKey, encrypt_proposal
from tests.fixtures import demo_proposals

# Each proposal's life in five events: the 200,000 events are 40,000 proposals.
LIFE = (
    "ProposalSubmitted",
    "ProposalVerified",
    "ProposalValidated",
    "ProposalRegistered",
    "SelectionRecorded",
)
METADATA: dict[str, Any] = {
    "actor": {"name": "bench"},
    "correlation_id": "bench",
    "causation_id": None,
    "source": "bench",
}


PERSON = DataKey.generate(uuid.uuid4())


def life_of(number: int) -> list[NewEvent]:
    at = (datetime(2023, 3, 1, tzinfo=UTC) + timedelta(seconds=number)).isoformat()
    ids = [uuid.uuid4() for _ in LIFE]
    # As the product records it: the innovator's fields encrypted (the rebuild copies them, never decrypts).
    proposal = encrypt_proposal(demo_proposals()[number % 5], ids[0], PERSON)
    data: list[dict[str, Any]] = [
        {"at": at, "proposal": proposal},
        {"at": at, "checklist": {"documents": {"passed": True, "note": ""}}, "notes": ""},
        {"at": at, "notes": ""},
        {"at": at, "sinovik_reference": f"SINOVIK-2023-{number}"},
        {"at": at, "stage": "top99", "outcome": "selected" if number % 3 else "not_selected", "notes": ""},
    ]
    versions = {"ProposalVerified": 2}
    return [
        NewEvent(event_id, kind, versions.get(kind, 1), body, METADATA)
        for event_id, kind, body in zip(ids, LIFE, data, strict=True)
    ]


async def generate(url: str, events: int, writers: int = 64) -> float:
    """Appends `events` events through the product's own append path. Returns the seconds it took."""
    pool = await create_pool(url, min_size=4, max_size=8)
    store = PostgresEventStore(pool)
    proposals = iter(range(events // len(LIFE)))

    async def writer() -> None:
        for number in proposals:
            for version, event in enumerate(life_of(number)):
                await store.append(uuid.uuid5(uuid.NAMESPACE_OID, str(number)), version, [event])

    began = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(writers)))
    seconds = time.perf_counter() - began
    await store.stop()
    await pool.close()
    return seconds


async def settle(url: str) -> None:
    """VACUUM ANALYZE after generating: both sides then read a settled table (hint bits set, statistics
    known) rather than the first of them paying for that, or meeting autovacuum doing it meanwhile."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("VACUUM ANALYZE review.events")
    finally:
        await conn.close()


async def _product(url: str) -> dict[str, float]:
    pool = await create_pool(url, min_size=1, max_size=3)
    began = time.perf_counter()
    report = await rebuild_status_projection(pool)
    seconds = time.perf_counter() - began
    await pool.close()
    return {"events": report.events, "seconds": seconds}


async def _raw(url: str) -> dict[str, float]:
    """Reads and decodes every row (JSON included) in pages, as a projection's input would need."""
    pool = await create_pool(url, min_size=1, max_size=1)
    began = time.perf_counter()
    rows, after = 0, 0
    async with pool.acquire() as conn:
        while True:
            page = await conn.fetch(
                "SELECT position, stream_id, version, event_id, type, schema_version, data, metadata,"
                " recorded_at, hash FROM review.events WHERE position > $1 ORDER BY position LIMIT 1000",
                after,
            )
            if not page:
                break
            rows += len(page)
            after = page[-1]["position"]
    seconds = time.perf_counter() - began
    await pool.close()
    return {"events": rows, "seconds": seconds}


def measure_in_child(side: str, url: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.rebuild", side, url], capture_output=True, text=True, check=True
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _child(side: str, url: str) -> None:
    result = asyncio.run(_product(url) if side == "product" else _raw(url))
    # VmHWM, not ru_maxrss: the latter counts the forking parent's memory too (Linux carries it over exec).
    result["peak_rss_mb"] = peak_rss_mb(os.getpid())
    print(json.dumps(result))


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else SERVER_URL)
