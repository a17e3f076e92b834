"""Personal data (UU PDP 27/2022) with both services running: the innovator's name and e-mail never reach
review's queue, the event store, the projection or the export in plain text; readers see them through the
services until the person is erased, and from then on nobody does, while every proof still verifies."""

import asyncio
import html
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import httpx
from kipp_client import AsyncIntakeClient

from shared.contract import Topology
from shared.personal_data.master_key import ensure_master_key
from shared.tlog.verify import verify_certificate, verify_export
from tests.apps import eventually
from tests.console import console_client, sign_in
from tests.e2e.conftest import System
from tests.fixtures import a_proposal
from tests.keys import Keys, bearer

ERASED = {"name": None, "email": None, "phone": None, "erased": True}


def kipp(system: System, *args: str) -> subprocess.CompletedProcess[str]:
    """The `kipp` command as the operator runs it, on this test's database."""
    env = {**os.environ, **{k: v for k, v in system.review.env.items() if k.startswith("KIPP_")}}
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


def a_person() -> dict[str, str]:
    tag = uuid.uuid4().hex[:10]
    return {"name": f"Siti Rahayu {tag}", "email": f"siti.{tag}@example.go.id", "phone": f"0812{tag[:6]}"}


async def everything_stored(database_url: str) -> str:
    """Every row of the event store, the projection and the outbox, as text (every column)."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT e::text FROM review.events AS e UNION ALL SELECT p::text FROM review.proposal_status AS p"
            " UNION ALL SELECT o::text FROM intake.outbox AS o"
        )
    finally:
        await conn.close()
    return "\n".join(row[0] for row in rows)


async def captured_queue(amqp_url: str, topology: Topology) -> tuple[aio_pika.abc.AbstractConnection, Any]:
    """A queue bound as review's is, to the intake exchange: it receives what review's queue receives."""
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(topology.intake_exchange, "proposal.*")
    return connection, queue


async def seen_in_review(review: httpx.AsyncClient, proposal_id: str, version: int = 1) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        answer = await review.get(f"/v1/proposals/{proposal_id}")
        return answer.json() if answer.status_code == 200 and answer.json()["version"] >= version else None

    return await eventually(probe, within=15)


async def console_page(system: System, keys: Keys, proposal_id: str) -> str:
    """The proposal's page in the console, as a signed-in reviewer sees it."""
    async with console_client(system.review.url) as console:
        assert (await sign_in(console, keys.reviewer)).status_code == 303
        page = await console.get(f"/console/proposals/{proposal_id}")
        assert page.status_code == 200, page.text
        return page.text


async def test_the_person_travels_encrypted_is_read_in_plain_and_once_erased_by_nobody(
    system: System,
    keys: Keys,
    intake: AsyncIntakeClient,
    intake_http: httpx.AsyncClient,
    review: httpx.AsyncClient,
    database_url: str,
    amqp_url: str,
    topology: Topology,
) -> None:
    person = a_person()
    connection, queue = await captured_queue(amqp_url, topology)
    async with connection:
        accepted = await intake.submit(a_proposal(innovator=person))
        assert accepted.http_status == 202, accepted.body
        proposal_id = accepted.proposal_id
        message = await eventually(lambda: queue.get(fail=False), within=15)
        await message.ack()
    secrets = [person["name"].encode(), person["email"].encode(), person["phone"].encode()]
    # What review consumes holds no personal field in plain text...
    assert not any(secret in message.body for secret in secrets)
    assert json.loads(message.body)["data"]["innovator"]["email"].keys() == {"subject", "nonce", "ciphertext"}
    # ...and readers with the right role read the person through the services.
    view = await seen_in_review(review, proposal_id)
    assert view["proposal"]["innovator"] == person
    assert (await intake.get(proposal_id)).proposal["innovator"] == person
    listed = (await review.get("/v1/proposals")).json()["items"]
    assert [item["proposal"]["innovator"] for item in listed if item["proposal_id"] == proposal_id] == [
        person
    ]
    page = await console_page(system, keys, proposal_id)
    assert all(html.escape(field) in page for field in person.values())

    auditor = httpx.AsyncClient(base_url=system.review.url, headers=bearer(keys.auditor), timeout=30)
    async with auditor:
        old_certificate = (await auditor.get(f"/v1/proposals/{proposal_id}/certificate")).json()
        export = (await auditor.get("/v1/events", headers={"Accept": "application/x-ndjson"})).text
    stored = await everything_stored(database_url)
    for text in (stored, export, json.dumps(old_certificate)):
        assert not any(secret.decode() in text for secret in secrets)

    # An access request names the person's proposal and what it holds of them.
    shown = await asyncio.to_thread(kipp, system, "personal-data", "show", "--email", person["email"])
    assert shown.returncode == 0, shown.stderr
    access = json.loads(shown.stdout)
    assert access["proposals"] == [proposal_id]
    assert [event["innovator"] for event in access["encrypted_in_events"]] == [person]

    # Erasure.
    erased = await asyncio.to_thread(kipp, system, "personal-data", "erase", "--email", person["email"])
    assert erased.returncode == 0, erased.stderr
    report = json.loads(erased.stdout)
    assert (report["erased"], report["proposals"], report["intake_copies_erased"]) == (
        True,
        [proposal_id],
        [proposal_id],
    )
    [recorded] = report["erasure_events"]
    conn = await asyncpg.connect(database_url)
    try:
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM personal_data.subjects WHERE subject_id = $1",
                uuid.UUID(report["subject"]),
            )
            == 0
        )  # the key row is gone
    finally:
        await conn.close()

    view = await seen_in_review(review, proposal_id, version=2)
    assert view["proposal"]["innovator"] == ERASED
    assert (await intake.get(proposal_id)).proposal["innovator"] == ERASED
    history = (await review.get(f"/v1/proposals/{proposal_id}/history")).json()["events"]
    assert [event["type"] for event in history] == ["ProposalSubmitted", "PersonalDataErased"]
    assert history[1]["position"] == recorded["position"]
    assert set(history[1]["data"]) == {"at", "subject"}  # the subject's random id, nothing personal

    async with httpx.AsyncClient(
        base_url=system.review.url, headers=bearer(keys.auditor), timeout=30
    ) as auditor:
        new_certificate = (await auditor.get(f"/v1/proposals/{proposal_id}/certificate")).json()

        async def erasure_certificate() -> dict[str, Any] | None:
            # The log's tree takes in the erasure event on its next pass: its certificate comes then.
            answer = await auditor.get(
                f"/v1/proposals/{proposal_id}/certificate?position={recorded['position']}"
            )
            return answer.json() if answer.status_code == 200 else None

        erasure = await eventually(erasure_certificate, within=30)
        export = (await auditor.get("/v1/events", headers={"Accept": "application/x-ndjson"})).text
        feed = (await auditor.get("/v1/events")).text
        log_key = (await auditor.get("/v1/audit/log-key")).json()["vkey"]
        note = (await auditor.get("/v1/audit/checkpoint")).text
        verification = (await auditor.get("/v1/audit/verification")).json()
    page = await console_page(system, keys, proposal_id)
    assert "data pribadi telah dihapus" in page
    answers = [
        page,
        json.dumps(view),
        (await review.get("/v1/proposals")).text,
        (await review.get(f"/v1/proposals/{proposal_id}/history")).text,
        # What intake answers, as sent (the typed client's reading of it would hide an extra field).
        (await intake_http.get(f"/v1/proposals/{proposal_id}")).text,
        (await intake_http.get("/v1/proposals")).text,
        json.dumps(new_certificate),
        json.dumps(erasure),
        export,
        feed,
        erased.stdout,
        (await asyncio.to_thread(kipp, system, "personal-data", "show", "--email", person["email"])).stdout,
        (await asyncio.to_thread(kipp, system, "events", "export")).stdout,
        await everything_stored(database_url),
    ]
    for number, text in enumerate(answers):
        assert not any(secret.decode() in text for secret in secrets), number

    # Every proof still holds: the chain, the old certificate and the new, the export against a checkpoint.
    assert verification["intact"] is True
    audit = await asyncio.to_thread(kipp, system, "audit", "verify")
    assert audit.returncode == 0, audit.stderr
    verify_certificate(old_certificate, log_key)
    verify_certificate(new_certificate, log_key)
    verify_certificate(erasure, log_key)
    assert verify_export(export.splitlines(), note, log_key).size == recorded["position"]

    # Erasing twice is harmless: nothing to find, nothing recorded again.
    again = await asyncio.to_thread(kipp, system, "personal-data", "erase", "--email", person["email"])
    assert again.returncode == 0, again.stderr
    assert (json.loads(again.stdout)["erased"], json.loads(again.stdout)["erasure_events"]) == (False, [])
    history = (await review.get(f"/v1/proposals/{proposal_id}/history")).json()["events"]
    assert len(history) == 2


async def test_a_service_started_with_another_master_key_stops_at_once_saying_why(
    system: System, intake: AsyncIntakeClient, tmp_path: Path
) -> None:
    # The database's data keys are wrapped by this run's master key (a person exists).
    assert (await intake.submit(a_proposal(innovator=a_person()))).http_status == 202
    stranger = tmp_path / "another-master-key"
    ensure_master_key(stranger)
    for service in ("intake", "review"):
        env = {
            **system.review.env,
            "KIPP_MASTER_KEY_FILE": str(stranger),
            "KIPP_REVIEW_PORT": "1",
            "KIPP_INTAKE_PORT": "1",
        }
        started = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", f"services.{service}"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert started.returncode != 0
        [line] = started.stderr.strip().splitlines()
        assert line.startswith(f"{service}: the master key in {stranger}")
        assert "is not the one that wraps this database's data keys" in line
