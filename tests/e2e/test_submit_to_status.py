"""The whole path with both services running as processes: submit -> publish -> record -> status."""

import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from kipp_client import AsyncIntakeClient, Problem

from shared.contract import Topology
from tests.apps import eventually
from tests.fixtures import a_proposal, demo_proposals
from tests.processes import free_port, service_env


async def submit(intake: AsyncIntakeClient, body: dict[str, object]) -> str:
    answer = await intake.submit(body)
    assert answer.http_status == 202, answer.body
    proposal_id = answer.proposal_id
    assert answer.location == f"/v1/proposals/{proposal_id}"
    assert answer.status == "submitted"
    return proposal_id


async def seen_by_review(review: httpx.AsyncClient, proposal_id: str) -> dict[str, object]:
    async def probe() -> dict[str, object] | None:
        answer = await review.get(f"/v1/proposals/{proposal_id}")
        return answer.json() if answer.status_code == 200 else None

    return await eventually(probe, within=5)


async def test_a_submitted_proposal_appears_in_review(
    intake: AsyncIntakeClient, review: httpx.AsyncClient
) -> None:
    # How soon is measured by `make bench` (freshness), not asserted here: a busy machine is slower.
    proposal_id = await submit(intake, a_proposal())
    view = await seen_by_review(review, proposal_id)
    assert view["status"] == "submitted"
    assert view["title"] == a_proposal()["title"]
    intake_view = await intake.get(proposal_id)
    assert intake_view.status == "submitted"
    assert intake_view.proposal == a_proposal()


async def test_reviewers_verify_then_validate_and_history_keeps_every_step(
    intake: AsyncIntakeClient, review: httpx.AsyncClient
) -> None:
    proposal_id = await submit(intake, a_proposal())
    await seen_by_review(review, proposal_id)

    too_early = await review.post(f"/v1/proposals/{proposal_id}/validation", json={"outcome": "passed"})
    assert too_early.status_code == 409
    assert too_early.headers["content-type"] == "application/problem+json"
    assert too_early.json()["current_status"] == "submitted"

    verified = await review.post(
        f"/v1/proposals/{proposal_id}/verification",
        json={"outcome": "passed", "checklist": {"documents complete": True}, "notes": "lengkap"},
        headers={"If-Match": '"1"'},
    )
    assert verified.status_code == 200, verified.text
    assert (verified.json()["status"], verified.headers["etag"]) == ("verified", '"2"')
    # Read-your-writes: the next GET sees the decision.
    assert (await review.get(f"/v1/proposals/{proposal_id}")).json()["status"] == "verified"

    stale = await review.post(
        f"/v1/proposals/{proposal_id}/validation", json={"outcome": "passed"}, headers={"If-Match": '"1"'}
    )
    assert stale.status_code == 412
    validated = await review.post(f"/v1/proposals/{proposal_id}/validation", json={"outcome": "passed"})
    assert validated.json()["status"] == "validated"

    history = (await review.get(f"/v1/proposals/{proposal_id}/history")).json()["events"]
    assert [(e["version"], e["type"]) for e in history] == [
        (1, "ProposalSubmitted"),
        (2, "ProposalVerified"),
        (3, "ProposalValidated"),
    ]
    # Recorded as posted, the innovator's fields encrypted (tests/e2e/test_personal_data.py).
    assert {**history[0]["data"]["proposal"], "innovator": None} == {**a_proposal(), "innovator": None}
    assert [e["position"] for e in history] == sorted(e["position"] for e in history)


async def test_the_status_list_filters_and_pages(
    intake: AsyncIntakeClient, review: httpx.AsyncClient
) -> None:
    ids = [await submit(intake, proposal) for proposal in demo_proposals()]
    for proposal_id in ids:
        await seen_by_review(review, proposal_id)
    await review.post(f"/v1/proposals/{ids[0]}/verification", json={"outcome": "passed"})

    pages, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await review.get("/v1/proposals", params=params)).json()
        pages.append([item["proposal_id"] for item in page["items"]])
        if not (cursor := page["next_cursor"]):
            break
    assert pages == [ids[4:2:-1], ids[2:0:-1], ids[0:1]]  # newest first

    verified = (await review.get("/v1/proposals", params={"status": "verified"})).json()["items"]
    assert [item["proposal_id"] for item in verified] == [ids[0]]
    pdam = (await review.get("/v1/proposals", params={"agency": "PDAM Tirta Sejiran Setason"})).json()[
        "items"
    ]
    assert [item["proposal_id"] for item in pdam] == [ids[4]]
    regency: dict[str, str | int] = {"regency": "Kabupaten Bangka Barat", "round": 2023}
    assert len((await review.get("/v1/proposals", params=regency)).json()["items"]) == 5
    assert (await review.get("/v1/proposals", params={"round": 2024})).json()["items"] == []
    assert (await review.get("/v1/proposals", params={"status": "approved"})).status_code == 422


async def test_refused_requests_record_nothing(
    intake: AsyncIntakeClient, intake_http: httpx.AsyncClient, review: httpx.AsyncClient, database_url: str
) -> None:
    too_long = a_proposal(sections={**a_proposal()["sections"], "summary": "kata " * 201})
    with pytest.raises(Problem) as refused:
        await intake.submit(too_long)
    assert refused.value.status == 422
    assert refused.value.content_type == "application/problem+json"
    assert refused.value.errors == [
        {
            "field": "sections.summary",
            "rule": "max_words",
            "message": "section 'summary' has 201 words; the limit is 200",
        }
    ]
    # By hand: bodies that are not JSON, or too large, which the client never sends.
    malformed = await intake_http.post(
        "/v1/proposals", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert malformed.status_code in (400, 422)
    huge = await intake_http.post(
        "/v1/proposals", content=b"x" * (1024 * 1024 + 1), headers={"content-type": "application/json"}
    )
    assert huge.status_code == 413
    assert huge.headers["content-type"] == "application/problem+json"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit counts what arrives
        for _ in range(20):
            yield b" " * 65536

    streamed = await intake_http.post(
        "/v1/proposals", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    assert streamed.headers["content-type"] == "application/problem+json"
    assert (
        await review.post(f"/v1/proposals/{uuid.uuid4()}/verification", json={"outcome": "passed"})
    ).status_code == 404
    assert (
        await review.post(f"/v1/proposals/{uuid.uuid4()}/verification", json={"outcome": "maybe"})
    ).status_code == 422

    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM intake.proposals") == 0
        assert await conn.fetchval("SELECT count(*) FROM intake.outbox") == 0
        assert await conn.fetchval("SELECT count(*) FROM review.events") == 0
    finally:
        await conn.close()


async def test_health_and_openapi_docs_are_served(
    intake_http: httpx.AsyncClient, review: httpx.AsyncClient
) -> None:
    for client in (intake_http, review):
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        assert (await client.get("/readyz")).json() == {"status": "ready", "database": "ok", "broker": "ok"}
        assert "/v1/proposals" in (await client.get("/openapi.json")).json()["paths"]
        assert (await client.get("/docs")).status_code == 200


def test_kipp_run_starts_both_services_and_stops_cleanly_on_ctrl_c(
    database_url: str, amqp_url: str, topology: Topology
) -> None:
    env = service_env(database_url, amqp_url, topology.prefix, free_port(), free_port())
    kipp = subprocess.Popen([sys.executable, "-m", "services.cli", "run"], env=env)
    try:
        for port in (env["KIPP_INTAKE_PORT"], env["KIPP_REVIEW_PORT"]):
            wait_until_ready(f"http://127.0.0.1:{port}", kipp)
        kipp.send_signal(signal.SIGINT)
        assert kipp.wait(timeout=30) == 0
    finally:
        if kipp.poll() is None:
            kipp.kill()


def wait_until_ready(url: str, process: subprocess.Popen[bytes], within: float = 30) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        assert process.poll() is None, f"exited with {process.returncode} before {url} was ready"
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} was not ready within {within} s")
