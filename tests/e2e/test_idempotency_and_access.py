"""Idempotency-Key on intake, API keys and roles on both services."""

import asyncio
import os
import subprocess
import sys
import uuid

import asyncpg
import httpx
from kipp_client import AsyncIntakeClient

from tests.e2e.conftest import System
from tests.fixtures import a_proposal
from tests.keys import Keys, bearer


async def count(database_url: str, sql: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


async def test_the_same_key_and_body_answer_the_first_result_and_create_nothing(
    intake: AsyncIntakeClient, database_url: str
) -> None:
    first = await intake.submit(a_proposal(), idempotency_key="portal-2023-0001")
    again = await intake.submit(a_proposal(), idempotency_key="portal-2023-0001")
    assert first.http_status == again.http_status == 202
    assert again.body == first.body
    assert again.location == first.location
    assert await count(database_url, "SELECT count(*) FROM intake.proposals") == 1


async def test_the_same_key_with_another_body_is_refused(
    intake_http: httpx.AsyncClient, database_url: str
) -> None:
    # By hand: a key reused for another body is what a careful client never sends.
    headers = {"Idempotency-Key": "portal-2023-0002"}
    assert (await intake_http.post("/v1/proposals", json=a_proposal(), headers=headers)).status_code == 202
    other = await intake_http.post("/v1/proposals", json=a_proposal(title="Another"), headers=headers)
    assert other.status_code == 422
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"
    assert await count(database_url, "SELECT count(*) FROM intake.proposals") == 1


async def test_requests_racing_with_one_key_create_one_proposal(
    intake: AsyncIntakeClient, database_url: str
) -> None:
    answers = await asyncio.gather(
        *(intake.submit(a_proposal(), idempotency_key="portal-2023-race") for _ in range(10))
    )
    assert {a.http_status for a in answers} == {202}
    assert len({a.proposal_id for a in answers}) == 1
    assert await count(database_url, "SELECT count(*) FROM intake.proposals") == 1
    assert await count(database_url, "SELECT count(*) FROM intake.idempotency_keys") == 1


async def test_keys_are_per_submitter(intake: AsyncIntakeClient, system: System, keys: Keys) -> None:
    mine = await intake.submit(a_proposal(), idempotency_key="shared-name")
    async with AsyncIntakeClient(system.intake.url, keys.other_submitter) as other:
        theirs = await other.submit(a_proposal(), idempotency_key="shared-name")
    assert theirs.http_status == 202
    assert theirs.proposal_id != mine.proposal_id


async def test_a_revision_replayed_with_its_key_is_recorded_once(
    intake: AsyncIntakeClient, review: httpx.AsyncClient, database_url: str
) -> None:
    from tests.e2e.test_review_lifecycle import decide, status_in_intake, status_in_review, submit

    proposal_id = await submit(intake)
    await status_in_review(review, proposal_id, "submitted")
    await decide(review, proposal_id, "revision-request", {"reasons": ["x"]})
    await status_in_intake(intake, proposal_id, "revision_requested")
    first = await intake.revise(proposal_id, a_proposal(title="v2"), idempotency_key="revision-1")
    again = await intake.revise(proposal_id, a_proposal(title="v2"), idempotency_key="revision-1")
    assert first.http_status == again.http_status == 202
    assert again.body == first.body
    await status_in_review(review, proposal_id, "submitted")
    revised = "SELECT count(*) FROM review.events WHERE type = 'ProposalRevised'"
    assert await count(database_url, revised) == 1


# Every endpoint, and who may call it. {id} is a proposal of the first submitter.
INTAKE = [
    ("POST", "/v1/proposals", "submitter"),
    ("GET", "/v1/proposals", "submitter"),
    ("GET", "/v1/proposals/{id}", "owner"),
    ("PUT", "/v1/proposals/{id}", "owner"),
    ("POST", "/v1/proposals/{id}/withdrawal", "owner"),
]
REVIEW = [
    ("GET", "/v1/proposals", "reader"),
    ("GET", "/v1/proposals/{id}", "reader"),
    ("GET", "/v1/proposals/{id}/history", "reader"),
    ("GET", "/v1/stats", "reader"),
    ("POST", "/v1/proposals/{id}/verification", "reviewer"),
    ("POST", "/v1/proposals/{id}/validation", "reviewer"),
    ("POST", "/v1/proposals/{id}/revision-request", "reviewer"),
    ("POST", "/v1/proposals/{id}/national-registration", "reviewer"),
    ("POST", "/v1/proposals/{id}/selection", "reviewer"),
]


def expected_status(rule: str, caller: str) -> set[int]:
    """What the authorisation layer answers; "passes" means anything but 401, 403 and 404."""
    passes = set(range(200, 600)) - {401, 403, 404}
    if caller in ("none", "revoked"):
        return {401}
    allowed = {
        "submitter": {"submitter", "other_submitter"},
        "owner": {"submitter"},
        "reader": {"reviewer", "auditor"},
        "reviewer": {"reviewer"},
    }[rule]
    if caller in allowed:
        return passes
    if rule == "owner" and caller == "other_submitter":
        return {404}  # another submitter's proposal: its existence does not leak
    return {403}


async def test_every_endpoint_refuses_whoever_may_not_call_it(
    intake: AsyncIntakeClient, system: System, keys: Keys
) -> None:
    proposal_id = (await intake.submit(a_proposal())).proposal_id
    callers = {
        "none": {},
        "revoked": bearer(keys.revoked),
        "submitter": bearer(keys.submitter),
        "other_submitter": bearer(keys.other_submitter),
        "reviewer": bearer(keys.reviewer),
        "auditor": bearer(keys.auditor),
    }
    bodies = {"PUT": a_proposal(), "POST": {"reason": "x"}}
    wrong = []
    # By hand: every route with no key, a revoked one and the wrong roles' keys, which the client is
    # never asked to send.
    async with httpx.AsyncClient() as client:
        for base, table in ((system.intake.url, INTAKE), (system.review.url, REVIEW)):
            for method, path, rule in table:
                for caller, headers in callers.items():
                    url = base + path.format(id=proposal_id)
                    body = (
                        a_proposal() if path == "/v1/proposals" and method == "POST" else bodies.get(method)
                    )
                    answer = await client.request(method, url, json=body, headers=headers)
                    if answer.status_code not in expected_status(rule, caller):
                        wrong.append(f"{method} {base}{path} as {caller}: {answer.status_code}")
                    if answer.status_code == 401:
                        assert answer.headers["www-authenticate"] == "Bearer"
    assert wrong == []


async def test_keys_from_the_cli_work_and_revocation_is_immediate_on_both_services(
    system: System, database_url: str
) -> None:
    env = {**os.environ, "KIPP_DATABASE_URL": database_url}

    def kipp(*args: str) -> list[str]:
        done = subprocess.run(
            [sys.executable, "-m", "services.cli", *args], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip().splitlines()

    key = kipp("keys", "create", "--role", "auditor", "--name", "BPK Perwakilan Babel")[-1]
    conn = await asyncpg.connect(database_url)
    try:  # only the hash is kept: no column of any key row holds the key itself
        by_hash = "SELECT count(*) FROM access.api_keys WHERE key_hash = sha256($1)"
        assert await conn.fetchval(by_hash, key.encode()) == 1
        leaked = "SELECT count(*) FROM access.api_keys k WHERE strpos(row_to_json(k)::text, $1) > 0"
        assert await conn.fetchval(leaked, key) == 0
    finally:
        await conn.close()
    listed = kipp("keys", "list")
    line = next(row for row in listed if "BPK Perwakilan Babel" in row)
    key_id = line.split()[0]
    assert uuid.UUID(key_id)
    assert line.split()[1] == "auditor"
    assert line.split()[3] == "-"  # not revoked

    async with httpx.AsyncClient(headers=bearer(key)) as auditor:
        assert (await auditor.get(f"{system.review.url}/v1/stats")).status_code == 200
        assert (await auditor.get(f"{system.intake.url}/v1/proposals")).status_code == 403
        kipp("keys", "revoke", key_id)
        assert (await auditor.get(f"{system.review.url}/v1/stats")).status_code == 401
        assert (await auditor.get(f"{system.intake.url}/v1/proposals")).status_code == 401
    revoked_line = next(row for row in kipp("keys", "list") if row.startswith(key_id))
    assert revoked_line.split()[3] != "-"
