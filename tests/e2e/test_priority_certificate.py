"""A priority certificate, from the running services to an offline check with the log's key alone."""

import asyncio
import base64
import copy
import itertools
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from kipp_client import AsyncIntakeClient

from services.review.eventstore.base import RecordedEvent
from services.review.eventstore.chain import sealed
from services.review.eventstore.postgres import row_to_event
from services.review.eventstore.subscription import EVENT_COLUMNS
from shared.db import create_pool
from shared.signing import load_private_key
from shared.tlog.merkle import verify_consistency
from shared.tlog.note import Checkpoint, NoteSigner, VerifierKey, open_note, split_note, verify_cosignature
from shared.tlog.verify import VerificationFailed, verify_certificate
from tests.e2e.conftest import System
from tests.e2e.test_review_lifecycle import decide, status_in_review, submit
from tests.keys import Keys, bearer

# What an offline verifier has: no database, broker or key file it could reach.
OFFLINE = {"PATH": "/usr/bin:/bin", "KIPP_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}


def kipp(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The `kipp` command as a process (with this run's environment unless `env` is given)."""
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args], env=env, capture_output=True, text=True, timeout=60
    )


def verify_offline(
    certificate: dict[str, Any], log_key: str, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    file = tmp_path / "certificate.json"
    file.write_text(json.dumps(certificate), encoding="utf-8")
    return kipp("verify", "certificate", str(file), "--log-key", log_key, env=OFFLINE)


def flip(text: str) -> str:
    """The same base64 with one bit of its first byte changed."""
    raw = bytearray(base64.b64decode(text))
    raw[0] ^= 1
    return base64.b64encode(bytes(raw)).decode()


def tampered(certificate: dict[str, Any]) -> dict[str, dict[str, Any]]:
    variants = {
        name: copy.deepcopy(certificate) for name in ("leaf", "proof", "checkpoint", "signature", "claim")
    }
    variants["leaf"]["leaf"] = flip(certificate["leaf"])
    variants["proof"]["inclusion_proof"][0] = flip(certificate["inclusion_proof"][0])
    lines = certificate["checkpoint"].split("\n")
    variants["checkpoint"]["checkpoint"] = "\n".join([lines[0], str(int(lines[1]) + 1), *lines[2:]])
    body, signature = certificate["checkpoint"].rsplit(" ", 1)
    variants["signature"]["checkpoint"] = f"{body} {flip(signature.strip())}\n"
    variants["claim"]["title"] = "Inovasi daerah lain"
    return variants


async def test_a_submitter_takes_a_certificate_that_verifies_offline_and_refuses_tampering(
    system: System, keys: Keys, intake: AsyncIntakeClient, review: httpx.AsyncClient, tmp_path: Path
) -> None:
    first = await submit(intake)
    await status_in_review(review, first, "submitted")
    proposal_id = await submit(intake)
    await status_in_review(review, proposal_id, "submitted")
    async with httpx.AsyncClient(
        base_url=system.review.url, headers=bearer(keys.submitter), timeout=30
    ) as owner:
        answer = await owner.get(f"/v1/proposals/{proposal_id}/certificate")
        assert answer.status_code == 200, answer.text
        certificate = answer.json()
        log_key = (await owner.get("/v1/audit/log-key")).json()["vkey"]
    async with httpx.AsyncClient(base_url=system.review.url, headers=bearer(keys.other_submitter)) as other:
        assert (await other.get(f"/v1/proposals/{proposal_id}/certificate")).status_code == 404

    assert certificate["format"] == "kipp-priority-certificate/v1"
    assert certificate["position"] == 2
    assert certificate["title"]
    done = verify_offline(certificate, log_key, tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"proposal {proposal_id} recorded at position 2" in done.stdout

    for name, variant in tampered(certificate).items():
        refused = verify_offline(variant, log_key, tmp_path)
        assert refused.returncode == 1, (name, refused.stdout, refused.stderr)
        assert "does NOT verify" in refused.stderr, name
    another_log = "other.example/log+00000000+" + base64.b64encode(b"\x01" + bytes(32)).decode()
    with pytest.raises((VerificationFailed, ValueError)):
        verify_certificate(certificate, another_log)


async def test_checkpoints_are_kept_outside_the_database_and_each_extends_the_last(
    system: System, keys: Keys, intake: AsyncIntakeClient, review: httpx.AsyncClient
) -> None:
    async with httpx.AsyncClient(
        base_url=system.review.url, headers=bearer(keys.auditor), timeout=30
    ) as auditor:
        vkey = VerifierKey.parse((await auditor.get("/v1/audit/log-key")).json()["vkey"])
        sizes = []
        for _ in range(3):
            proposal_id = await submit(intake)
            await status_in_review(review, proposal_id, "submitted")
            await decide(review, proposal_id, "verification", {"outcome": "passed"})
            answer = await auditor.get(f"/v1/proposals/{proposal_id}/certificate")
            assert answer.status_code == 200, answer.text
            certificate = answer.json()
            checkpoint = Checkpoint.parse(open_note(certificate["checkpoint"], vkey))
            sizes.append(checkpoint)
        for older, newer in itertools.pairwise(sizes):
            proof = (
                await auditor.get(f"/v1/audit/consistency?first={older.size}&second={newer.size}")
            ).json()
            verify_consistency(
                older.size, newer.size, older.root, newer.root, [base64.b64decode(p) for p in proof["proof"]]
            )
        note = (await auditor.get("/v1/audit/checkpoint")).text
        assert Checkpoint.parse(open_note(note, vkey)).size >= sizes[-1].size
    assert kept_sizes(Path(system.review.env["KIPP_CHECKPOINT_DIR"]), vkey) >= {c.size for c in sizes}


def kept_sizes(directory: Path, vkey: VerifierKey) -> set[int]:
    """The sizes of the signed checkpoints kept in the directory (each one checked)."""
    return {
        Checkpoint.parse(open_note(path.read_text(), vkey)).size for path in directory.glob("*.checkpoint")
    }


def kipp_audit_verify(system: System, database_url: str) -> subprocess.CompletedProcess[str]:
    checkpoints = system.review.env["KIPP_CHECKPOINT_DIR"]
    env = {**os.environ, "KIPP_DATABASE_URL": database_url, "KIPP_CHECKPOINT_DIR": checkpoints}
    return kipp("audit", "verify", env=env)


async def test_a_tail_cut_off_by_a_superuser_is_found_against_the_kept_checkpoint(
    system: System, keys: Keys, intake: AsyncIntakeClient, review: httpx.AsyncClient, database_url: str
) -> None:
    ids = [await submit(intake) for _ in range(3)]
    for proposal_id in ids:
        await status_in_review(review, proposal_id, "submitted")
    async with httpx.AsyncClient(
        base_url=system.review.url, headers=bearer(keys.auditor), timeout=30
    ) as auditor:
        assert (await auditor.get(f"/v1/proposals/{ids[-1]}/certificate")).status_code == 200  # signs size 3
    assert (await asyncio.to_thread(kipp_audit_verify, system, database_url)).returncode == 0

    # Whoever runs the database removes the last two events; the chain of what is left still walks clean.
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "ALTER TABLE review.events DISABLE TRIGGER USER;"
            " DELETE FROM review.events WHERE position > 1;"
            " ALTER TABLE review.events ENABLE TRIGGER USER"
        )
    finally:
        await conn.close()
    done = await asyncio.to_thread(kipp_audit_verify, system, database_url)
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert (report["checked"], report["first_mismatch"]) == (1, None)  # the hash chain alone cannot tell
    assert (report["intact"], report["log"]["first_position"], report["log"]["last_position"]) == (
        False,
        2,
        3,
    )
    assert "positions 2..3 are missing" in done.stderr


async def test_an_event_rewritten_with_its_chain_recomputed_is_named_by_position_event_and_proposal(
    system: System, keys: Keys, intake: AsyncIntakeClient, review: httpx.AsyncClient, database_url: str
) -> None:
    ids = [await submit(intake) for _ in range(4)]
    for proposal_id in ids:
        await status_in_review(review, proposal_id, "submitted")
    async with httpx.AsyncClient(
        base_url=system.review.url, headers=bearer(keys.auditor), timeout=30
    ) as auditor:
        assert (await auditor.get(f"/v1/proposals/{ids[-1]}/certificate")).status_code == 200  # signs size 4
    kept = Path(system.review.env["KIPP_CHECKPOINT_DIR"])
    assert (kept / "tile/0/000.p/4").stat().st_size == 4 * 32  # the leaf hashes, kept beside it
    assert (await asyncio.to_thread(kipp_audit_verify, system, database_url)).returncode == 0

    # Whoever runs the database changes the title of the submission at position 2 and recomputes every
    # hash from there, so the chain walks clean again.
    changed = await rewrite_title(database_url, 2, "Inovasi daerah lain")
    done = await asyncio.to_thread(kipp_audit_verify, system, database_url)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert (report["checked"], report["first_mismatch"]) == (4, None)  # the chain alone cannot tell
    log = report["log"]
    assert (report["intact"], log["first_position"], log["last_position"]) == (False, 2, 2)
    assert log["events"] == [
        {"position": 2, "event_id": str(changed.event_id), "proposal_id": str(changed.stream_id),
         "type": "ProposalSubmitted"}
    ]  # fmt: skip
    assert str(changed.stream_id) in ids
    assert f"position 2 (event {changed.event_id}, proposal {changed.stream_id})" in done.stderr


async def rewrite_title(database_url: str, position: int, title: str) -> RecordedEvent:
    """As a superuser with the append-only triggers off: the event's title changed, and the chain
    recomputed from it to the head. Returns the event as it now stands."""
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                f"SELECT {EVENT_COLUMNS} FROM review.events WHERE position >= $1 ORDER BY position", position
            )
            previous = bytes(
                await conn.fetchval("SELECT hash FROM review.events WHERE position = $1", position - 1)
            )
            await conn.execute("ALTER TABLE review.events DISABLE TRIGGER USER")
            events = [row_to_event(row) for row in rows]
            proposal = {**events[0].data["proposal"], "title": title}
            events[0] = replace(events[0], data={**events[0].data, "proposal": proposal})
            for event in events:
                event = sealed(previous, event)
                await conn.execute(
                    "UPDATE review.events SET data = $2, hash = $3 WHERE position = $1",
                    event.position,
                    event.data,
                    event.hash,
                )
                previous = event.hash
            await conn.execute("ALTER TABLE review.events ENABLE TRIGGER USER")
        return replace(events[0], hash=b"")
    finally:
        await pool.close()


def kipp_witness(*args: str) -> subprocess.CompletedProcess[str]:
    return kipp("witness", *args)


async def test_a_witness_cosigns_checkpoints_that_extend_each_other_and_refuses_one_that_does_not(
    system: System, keys: Keys, intake: AsyncIntakeClient, review: httpx.AsyncClient, tmp_path: Path
) -> None:
    name, key, state = "babelprov.go.id/witness", tmp_path / "witness.pem", tmp_path / "witness-state"
    witness_vkey = VerifierKey.parse(kipp_witness("init", "--key", str(key), "--name", name).stdout.strip())
    async with httpx.AsyncClient(
        base_url=system.review.url, headers=bearer(keys.auditor), timeout=30
    ) as auditor:
        log_key = (await auditor.get("/v1/audit/log-key")).json()["vkey"]
        cosign = ["cosign", "--review", system.review.url, "--api-key", keys.auditor, "--log-key", log_key,
                  "--key", str(key), "--name", name, "--state", str(state)]  # fmt: skip
        for _ in range(2):  # the second time, it checks the new checkpoint extends the first it cosigned
            proposal_id = await submit(intake)
            await status_in_review(review, proposal_id, "submitted")
            assert (await auditor.get(f"/v1/proposals/{proposal_id}/certificate")).status_code == 200
            done = await asyncio.to_thread(kipp_witness, *cosign)
            assert done.returncode == 0, done.stderr
        note = (await auditor.get("/v1/audit/checkpoint")).text
        text, signatures = split_note(note)
        assert Checkpoint.parse(open_note(note, VerifierKey.parse(log_key))).size == 2
        assert verify_cosignature(text, signatures[1], witness_vkey) > 0  # served with its cosignature
        certificate = (await auditor.get(f"/v1/proposals/{proposal_id}/certificate")).json()
        assert name in certificate["checkpoint"]

        # The log shows the witness a history other than the one it cosigned: a checkpoint of the same
        # size with another root, signed with the log's own key. The witness refuses to go on from it.
        log_signer = NoteSigner(
            Checkpoint.parse(text).origin, load_private_key(system.review.env["KIPP_LOG_KEY_FILE"])
        )
        forged = Checkpoint(Checkpoint.parse(text).origin, 2, bytes(32))
        (state / "last.checkpoint").write_text(log_signer.sign(forged.text()), encoding="utf-8")
        refused = await asyncio.to_thread(kipp_witness, *cosign)
        assert refused.returncode == 1
        assert "refused to cosign" in refused.stderr
        assert "does not extend" in refused.stderr


def kipp_verify_export(ledger: Path, checkpoint: Path, log_key: str) -> subprocess.CompletedProcess[str]:
    return kipp(
        "verify", "export", str(ledger), "--checkpoint", str(checkpoint), "--log-key", log_key, env=OFFLINE
    )


async def test_an_export_verifies_offline_against_a_checkpoint_and_a_changed_event_is_named(
    system: System, keys: Keys, intake: AsyncIntakeClient, review: httpx.AsyncClient, tmp_path: Path
) -> None:
    ids = [await submit(intake) for _ in range(3)]
    for proposal_id in ids:
        await status_in_review(review, proposal_id, "submitted")
    async with httpx.AsyncClient(
        base_url=system.review.url, headers=bearer(keys.auditor), timeout=30
    ) as auditor:
        assert (await auditor.get(f"/v1/proposals/{ids[-1]}/certificate")).status_code == 200
        log_key = (await auditor.get("/v1/audit/log-key")).json()["vkey"]
        note = (await auditor.get("/v1/audit/checkpoint")).text
        export = (await auditor.get("/v1/events", headers={"Accept": "application/x-ndjson"})).text
    checkpoint, ledger = tmp_path / "checkpoint", tmp_path / "ledger.ndjson"
    checkpoint.write_text(note, encoding="utf-8")
    ledger.write_text(export, encoding="utf-8")
    done = await asyncio.to_thread(kipp_verify_export, ledger, checkpoint, log_key)
    assert done.returncode == 0, done.stderr
    assert "export verified: its first 3 events" in done.stdout

    lines = export.splitlines()
    second = json.loads(lines[1])
    second["data"]["proposal"]["title"] = "Inovasi daerah lain"
    ledger.write_text("\n".join([lines[0], json.dumps(second), *lines[2:]]) + "\n", encoding="utf-8")
    changed = await asyncio.to_thread(kipp_verify_export, ledger, checkpoint, log_key)
    assert changed.returncode == 1
    assert f"position 2 (event {second['event_id']}, proposal {second['proposal_id']})" in changed.stderr

    ledger.write_text("\n".join(lines[:2]) + "\n", encoding="utf-8")
    short = await asyncio.to_thread(kipp_verify_export, ledger, checkpoint, log_key)
    assert short.returncode == 1
    assert "ends at position 2" in short.stderr
