"""What auditors can do: the past as it was, the whole feed, proof the history is intact, from API and CLI."""

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from kipp_client import AsyncIntakeClient

from tests.e2e.conftest import System
from tests.e2e.test_review_lifecycle import decide, status_in_review, submit
from tests.fixtures import demo_proposals
from tests.keys import Keys, bearer


@pytest.fixture
async def auditor(system: System, keys: Keys) -> Any:
    async with httpx.AsyncClient(
        base_url=system.review.url, headers=bearer(keys.auditor), timeout=30
    ) as client:
        yield client


def kipp(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KIPP_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args], env=env, capture_output=True, text=True
    )


async def test_the_proposal_as_it_stood_at_each_moment(
    intake: AsyncIntakeClient, review: httpx.AsyncClient, auditor: httpx.AsyncClient
) -> None:
    before = datetime.now(UTC)
    proposal_id = await submit(intake)
    await status_in_review(review, proposal_id, "submitted")
    moments = [datetime.now(UTC)]
    for decision, body in [
        ("verification", {"outcome": "passed"}),
        ("validation", {"outcome": "passed"}),
        ("national-registration", {"sinovik_reference": "SINOVIK-2023-7"}),
    ]:
        await asyncio.sleep(0.02)
        await decide(review, proposal_id, decision, body)
        moments.append(datetime.now(UTC))

    async def as_of(moment: datetime) -> httpx.Response:
        return await auditor.get(f"/v1/proposals/{proposal_id}", params={"as_of": moment.isoformat()})

    assert (await as_of(before)).status_code == 404
    seen = [(await as_of(moment)).json() for moment in moments]
    assert [(view["status"], view["version"]) for view in seen] == [
        ("submitted", 1),
        ("verified", 2),
        ("validated", 3),
        ("registered", 4),
    ]
    assert seen[2]["sinovik_reference"] is None
    assert seen[3]["sinovik_reference"] == "SINOVIK-2023-7"
    assert (
        await auditor.get(f"/v1/proposals/{proposal_id}", params={"as_of": "yesterday"})
    ).status_code == 422


async def test_the_feed_is_complete_and_in_order_in_pages_in_ndjson_and_from_the_cli(
    intake: AsyncIntakeClient, review: httpx.AsyncClient, auditor: httpx.AsyncClient, database_url: str
) -> None:
    ids = [await submit(intake, text) for text in demo_proposals()]
    for proposal_id in ids:
        await status_in_review(review, proposal_id, "submitted")
    for proposal_id in ids[:3]:
        await decide(review, proposal_id, "verification", {"outcome": "passed"})

    paged: list[dict[str, Any]] = []
    after = 0
    while True:
        page = (await auditor.get("/v1/events", params={"after": after, "limit": 3})).json()
        if not page["events"]:
            break
        paged += page["events"]
        after = page["next_after"]
    assert [e["position"] for e in paged] == list(range(1, 9))
    assert {e["proposal_id"] for e in paged} == set(ids)

    streamed = await auditor.get(
        "/v1/events", params={"after": 0}, headers={"Accept": "application/x-ndjson"}
    )
    assert streamed.headers["content-type"].startswith("application/x-ndjson")
    assert [json.loads(line) for line in streamed.text.splitlines()] == paged
    tail = await auditor.get("/v1/events", params={"after": 5}, headers={"Accept": "application/x-ndjson"})
    assert [json.loads(line)["position"] for line in tail.text.splitlines()] == [6, 7, 8]

    exported = kipp(database_url, "events", "export")
    assert exported.returncode == 0, exported.stderr
    assert [json.loads(line) for line in exported.stdout.splitlines()] == paged
    exported_tail = kipp(database_url, "events", "export", "--after", "6")
    assert [json.loads(line)["position"] for line in exported_tail.stdout.splitlines()] == [7, 8]

    assert (await review.get("/v1/events")).status_code == 403  # the feed is for auditors


async def test_verification_digest_and_tampering_from_the_api_and_the_cli(
    intake: AsyncIntakeClient,
    review: httpx.AsyncClient,
    auditor: httpx.AsyncClient,
    database_url: str,
    tmp_path: Path,
) -> None:
    for text in demo_proposals()[:3]:
        await status_in_review(review, await submit(intake, text), "submitted")

    report = (await auditor.get("/v1/audit/verification")).json()
    assert (report["intact"], report["checked"], report["head_position"]) == (True, 3, 3)
    assert len(report["head_hash"]) == 64
    verified = kipp(database_url, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["intact"] is True

    digest = (await auditor.get("/v1/audit/digest")).json()
    assert (digest["position"], digest["head_hash"], digest["algorithm"]) == (
        3,
        report["head_hash"],
        "Ed25519",
    )
    cli_digest = kipp(database_url, "audit", "digest")
    assert json.loads(cli_digest.stdout)["key_id"] == digest["key_id"]  # one key for service and CLI
    digest_file = tmp_path / "digest.json"
    digest_file.write_text(json.dumps(digest))
    assert kipp(database_url, "audit", "verify", "--digest", str(digest_file)).returncode == 0
    answer = await auditor.post("/v1/audit/digest/verification", json=digest)
    assert answer.json()["intact"] is True

    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("ALTER TABLE review.events DISABLE TRIGGER USER")
        await conn.execute(
            "UPDATE review.events SET data = jsonb_set(data, '{at}', '\"2023-01-01T00:00:00Z\"')"
            " WHERE position = 2"
        )
        await conn.execute("ALTER TABLE review.events ENABLE TRIGGER USER")
    finally:
        await conn.close()

    broken = (await auditor.get("/v1/audit/verification")).json()
    assert (broken["intact"], broken["first_mismatch"], broken["checked"]) == (False, 2, 1)
    failed = kipp(database_url, "audit", "verify")
    assert failed.returncode == 1
    assert "first mismatch at position 2" in failed.stderr
    assert kipp(database_url, "audit", "verify", "--digest", str(digest_file)).returncode == 1
    assert (await auditor.get("/v1/audit/digest")).status_code == 409  # nothing signed over a broken chain

    forged = {**digest, "key_id": "0" * 16}
    assert (await auditor.post("/v1/audit/digest/verification", json=forged)).status_code == 422
