"""What operators see: Prometheus metrics after real traffic, JSON logs that follow one correlation id
across both services and the broker, the AsyncAPI documents, and `kipp demo` against the running system."""

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from kipp_client import AsyncIntakeClient
from prometheus_client.parser import text_string_to_metric_families

from tests.apps import eventually
from tests.e2e.conftest import System
from tests.e2e.test_review_lifecycle import decide, status_in_intake, status_in_review, submit
from tests.fixtures import a_proposal
from tests.keys import Keys, bearer


async def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics, by name and labels."""
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"{url}/metrics")
    assert answer.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    wanted = {k: v for k, v in labels.items()}
    found = [v for (n, ls), v in samples.items() if n == name and wanted.items() <= dict(ls).items()]
    assert found, f"no sample {name}{labels}"
    return sum(found)


async def test_metrics_after_real_traffic(
    intake: AsyncIntakeClient, review: httpx.AsyncClient, system: System, keys: Keys
) -> None:
    proposal_id = await submit(intake)
    await status_in_review(review, proposal_id, "submitted")
    await decide(review, proposal_id, "verification", {"outcome": "passed"})
    await status_in_intake(intake, proposal_id, "verified")
    async with httpx.AsyncClient(base_url=system.review.url, headers=bearer(keys.auditor)) as auditor:
        assert (await auditor.get("/v1/audit/verification")).json()["intact"]

    seen = await scrape(system.intake.url)
    assert value(seen, "kipp_http_requests_total", route="/v1/proposals", method="POST", status="202") >= 1
    assert value(seen, "kipp_http_request_seconds_count", route="/v1/proposals", method="POST") >= 1
    assert value(seen, "kipp_intake_accepted_total", event_type="proposal.submitted") >= 1
    assert value(seen, "kipp_outbox_backlog") == 0
    assert value(seen, "kipp_outbox_oldest_age_seconds") == 0
    assert value(seen, "kipp_queue_depth", queue=f"{system_prefix(system)}.intake.review-events") >= 0
    assert value(seen, "kipp_status_changes_total", outcome="applied") >= 2

    seen = await scrape(system.review.url)
    assert value(seen, "kipp_events_appended_total", type="ProposalSubmitted") >= 1
    assert value(seen, "kipp_events_appended_total", type="ProposalVerified") >= 1
    assert value(seen, "kipp_append_seconds_count") >= 2
    assert value(seen, "kipp_intake_messages_total", outcome="recorded") >= 1
    assert value(seen, "kipp_projection_lag_events") == 0
    assert value(seen, "kipp_event_store_head_position") == 2
    assert value(seen, "kipp_queue_depth", queue=f"{system_prefix(system)}.review.intake-events.dead") == 0
    assert value(seen, "kipp_chain_verifications_total", result="intact") == 1
    assert (
        value(
            seen, "kipp_http_requests_total", route="/v1/proposals/{proposal_id}/verification", status="200"
        )
        == 1
    )


def system_prefix(system: System) -> str:
    return system.review.env["KIPP_PREFIX"]


def log_lines(path: Path | None) -> list[dict[str, Any]]:
    assert path is not None
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def test_one_correlation_id_follows_a_submission_through_both_services(
    intake: AsyncIntakeClient, review: httpx.AsyncClient, system: System
) -> None:
    answer = await intake.submit(a_proposal(), correlation_id="trace-babar-7")
    assert answer.correlation_id == "trace-babar-7"
    proposal_id = answer.proposal_id
    await status_in_review(review, proposal_id, "submitted")

    def traced(path: Path | None, message: str) -> list[dict[str, Any]]:
        return [
            line
            for line in log_lines(path)
            if line.get("correlation_id") == "trace-babar-7" and line["message"] == message
        ]

    async def followed() -> bool:
        return bool(traced(system.intake.log_path, "status submitted followed"))

    await eventually(followed)
    [accepted] = traced(system.intake.log_path, "accepted proposal.submitted")
    [recorded] = traced(system.review.log_path, "intake event recorded")
    assert accepted["service"] == "intake"
    assert accepted["proposal_id"] == recorded["proposal_id"] == proposal_id
    assert recorded["service"] == "review"
    assert {"time", "level", "logger"} <= recorded.keys()
    history = (await review.get(f"/v1/proposals/{proposal_id}/history")).json()["events"]
    assert history[0]["metadata"]["correlation_id"] == "trace-babar-7"


async def test_asyncapi_documents_are_served_beside_openapi(system: System) -> None:
    prefix = system_prefix(system)
    async with httpx.AsyncClient() as client:
        for service, publishes, consumes in (
            (system.intake, f"{prefix}.intake", f"{prefix}.intake.review-events"),
            (system.review, f"{prefix}.review", f"{prefix}.review.intake-events"),
        ):
            document = (await client.get(f"{service.url}/asyncapi.json")).json()
            assert document["asyncapi"].startswith("3.")
            text = json.dumps(document)
            assert publishes in text
            assert consumes in text
            assert "EnvelopeMetadata" in text or "correlation_id" in text
            page = await client.get(f"{service.url}/asyncapi")
            assert page.status_code == 200
            assert "<html" in page.text.lower()
            assert (await client.get(f"{service.url}/docs")).status_code == 200


async def test_kipp_demo_walks_the_story_through_the_running_system(
    system: System, database_url: str
) -> None:
    env = {
        **os.environ,
        "KIPP_DATABASE_URL": database_url,
        "KIPP_INTAKE_PORT": str(system.intake.port),
        "KIPP_REVIEW_PORT": str(system.review.port),
    }
    command = [sys.executable, "-m", "services.cli", "demo"]
    done = await asyncio.to_thread(subprocess.run, command, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    board = done.stdout.split("Status board")[1].split("History")[0]
    statuses = [line.split()[0] for line in board.strip().splitlines()]
    # Kominfo registered; Perkimhub sent back and revised (submitted again); PDAM verified by one reviewer
    # while the other, deciding on the same version, was told so.
    assert sorted(statuses) == ["registered", "submitted", "submitted", "submitted", "verified"]
    assert "Dinas Komunikasi dan Informatika" in next(
        line for line in board.splitlines() if "registered" in line
    )
    assert "ProposalRegistered   by Rina, Bagian Organisasi Setda Bangka Barat" in done.stdout
    assert "refused    a summary of 201 words: 422 max_words (sections.summary)" in done.stdout
    assert "revision   Perkimhub: asked for, sent, back in review's queue" in done.stdout
    assert "Budi, on the same version, was told 412" in done.stdout
    assert "Audit: 12 events checked, history intact" in done.stdout
    # Bangka Tengah's later copy of the Kominfo proposal, flagged against it with a matching passage.
    flag = next(line for line in done.stdout.splitlines() if "resemblance" in line)
    assert "Kabupaten Bangka Tengah's \"Lapor Kilat Bateng" in flag
    assert 'resembles the earlier "Lapor Cepat Babar' in flag
    assert "(Kabupaten Bangka Barat, recorded at position 1)" in flag
    assert "earlier summary: Lapor Cepat Babar menyatukan kanal aduan warga" in done.stdout
    assert "Certificate: the Kominfo proposal recorded at position 1" in done.stdout
    assert "verified offline with the log's key" in done.stdout
    keys_before = await _count_keys(database_url)

    again = await asyncio.to_thread(subprocess.run, command, env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert "already recorded" in again.stdout
    assert await _count_keys(database_url) == keys_before  # its keys were reused, none minted
    assert "Audit: 12 events checked, history intact" in again.stdout  # nothing submitted or decided twice


async def _count_keys(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM access.api_keys"))
    finally:
        await conn.close()
