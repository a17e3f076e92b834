"""Tamper evidence: a superuser who disables the triggers and edits history is caught at the right place."""

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.review.application import ReviewService
from services.review.audit import DigestRefused, DigestSigner, verify_against_digest, verify_chain
from services.review.consumer import intake_command
from services.review.domain.commands import RequestRevision, ValidateProposal, VerifyProposal
from services.review.eventstore.chain import GENESIS_HASH, sealed
from services.review.eventstore.postgres import PostgresEventStore
from shared.contract import PROPOSAL_SUBMITTED, new_envelope
from shared.lifecycle import CheckOutcome
from tests.fixtures import REVIEWER_ACTOR, SUBMITTER, demo_proposals, encrypted, reopened_rounds

REVIEWER = {"actor": REVIEWER_ACTOR, "correlation_id": "c", "source": "test"}


async def record_history(store: PostgresEventStore) -> list[uuid.UUID]:
    """Eight events over three proposals."""
    service = ReviewService(store, reopened_rounds())
    ids = []
    for text in demo_proposals()[:3]:
        envelope = new_envelope(
            PROPOSAL_SUBMITTED,
            uuid.uuid4(),
            datetime.now(UTC),
            text,
            actor=SUBMITTER,
            sequence=1,
            source="t",
            correlation_id="c",
        )
        await service.record_intake_event(intake_command(encrypted(envelope)))
        ids.append(envelope.proposal_id)
    for proposal_id in ids:
        await service.decide(
            proposal_id, lambda at: VerifyProposal(at=at, outcome=CheckOutcome.PASSED), REVIEWER
        )
    await service.decide(ids[0], lambda at: ValidateProposal(at=at, outcome=CheckOutcome.PASSED), REVIEWER)
    await service.decide(ids[1], lambda at: RequestRevision(at=at, reasons=("r",)), REVIEWER)
    return ids


@pytest.fixture
async def store(pool: asyncpg.Pool) -> AsyncIterator[PostgresEventStore]:
    store = PostgresEventStore(pool)
    await record_history(store)
    yield store
    await store.stop()


async def tamper(pool: asyncpg.Pool, *statements: str) -> None:
    """As a superuser: the append-only triggers switched off, the statements run, the triggers back on."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("ALTER TABLE review.events DISABLE TRIGGER USER")
        for statement in statements:
            await conn.execute(statement)
        await conn.execute("ALTER TABLE review.events ENABLE TRIGGER USER")


async def test_an_untouched_history_verifies(store: PostgresEventStore) -> None:
    report = await verify_chain(store.read_all())
    assert (report.intact, report.checked, report.head_position, report.first_mismatch) == (True, 8, 8, None)


@pytest.mark.parametrize(
    ("statements", "first_mismatch"),
    [
        (["UPDATE review.events SET data = jsonb_set(data, '{notes}', '\"changed\"') WHERE position = 5"], 5),
        (["UPDATE review.events SET metadata = '{}' WHERE position = 2"], 2),
        (["UPDATE review.events SET recorded_at = recorded_at - interval '1 day' WHERE position = 7"], 7),
        (["DELETE FROM review.events WHERE position = 3"], 3),
        (["UPDATE review.events SET hash = sha256(hash) WHERE position = 4"], 4),
        (
            [  # two events swapped in the global order
                "UPDATE review.events SET position = 1000 WHERE position = 6",
                "UPDATE review.events SET position = 6 WHERE position = 4",
                "UPDATE review.events SET position = 4 WHERE position = 1000",
            ],
            4,
        ),
        (
            [  # an event inserted at position 3, the rest moved up by one
                "UPDATE review.events SET position = position + 1000 WHERE position >= 3",
                "UPDATE review.events SET position = position - 999 WHERE position >= 1000",
                "INSERT INTO review.events (position, stream_id, version, event_id, type, schema_version,"
                " data, metadata, recorded_at, hash) SELECT 3, stream_id, 99, gen_random_uuid(), type,"
                " schema_version, data, metadata, recorded_at, hash FROM review.events WHERE position = 2",
            ],
            3,
        ),
    ],
    ids=["changed-data", "changed-metadata", "changed-time", "deleted", "edited-hash", "swapped", "inserted"],
)
async def test_tampering_is_found_at_the_position_it_happened(
    store: PostgresEventStore, pool: asyncpg.Pool, statements: list[str], first_mismatch: int
) -> None:
    await tamper(pool, *statements)
    report = await verify_chain(store.read_all())
    assert report.intact is False
    assert report.first_mismatch == first_mismatch
    assert report.checked == first_mismatch - 1


async def rewrite_whole_chain_from(pool: asyncpg.Pool, store: PostgresEventStore, position: int) -> None:
    """What a superuser who knows the scheme could do: change an event and recompute every hash after it."""
    events = [event async for event in store.read_all()]
    previous = GENESIS_HASH if position == 1 else events[position - 2].hash
    statements = []
    for event in events[position - 1 :]:
        if event.position == position:
            event = replace(event, data={**event.data, "notes": "rewritten"})
        event = sealed(previous, event)
        previous = event.hash
        data = "jsonb_set(data, '{notes}', '\"rewritten\"')" if event.position == position else "data"
        statements.append(
            f"UPDATE review.events SET data = {data}, hash = '\\x{event.hash.hex()}'"
            f" WHERE position = {event.position}"
        )
    await tamper(pool, *statements)


async def test_a_digest_taken_before_a_full_rewrite_exposes_it(
    store: PostgresEventStore, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    signer = DigestSigner.from_file(str(tmp_path / "key.pem"), create=True)
    before = await verify_chain(store.read_all())
    digest = signer.digest(before.head_position, before.head_hash)
    assert (await verify_against_digest(store.read_all(), signer.verifier, digest)).intact

    await rewrite_whole_chain_from(pool, store, 5)
    assert (await verify_chain(store.read_all())).intact  # the chain alone cannot tell
    after = await verify_against_digest(store.read_all(), signer.verifier, digest)
    assert after.intact is False
    assert after.first_mismatch == 8
    assert "rewritten" in (after.reason or "")


async def test_a_digest_still_verifies_after_later_appends(
    store: PostgresEventStore, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    signer = DigestSigner.from_file(str(tmp_path / "key.pem"), create=True)
    before = await verify_chain(store.read_all())
    digest = signer.digest(before.head_position, before.head_hash)
    await record_history(store)
    report = await verify_against_digest(store.read_all(), signer.verifier, digest)
    assert (report.intact, report.checked) == (True, 8)


async def test_a_digest_from_another_key_or_altered_is_refused(
    store: PostgresEventStore, tmp_path: Path
) -> None:
    ours = DigestSigner.from_file(str(tmp_path / "ours.pem"), create=True)
    theirs = DigestSigner.from_file(str(tmp_path / "theirs.pem"), create=True)
    head = await verify_chain(store.read_all())
    with pytest.raises(DigestRefused, match="another key"):
        ours.verifier.check(theirs.digest(head.head_position, head.head_hash))
    altered = ours.digest(head.head_position, head.head_hash).model_copy(update={"position": 3})
    with pytest.raises(DigestRefused, match="altered"):
        ours.verifier.check(altered)


async def test_the_signing_key_is_kept_in_its_file(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "audit.pem"
    first = DigestSigner.from_file(str(path), create=True)
    assert DigestSigner.from_file(str(path)).key_id == first.key_id
    assert path.stat().st_mode & 0o777 == 0o600


def kipp_in(directory: Path, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`kipp` run from `directory` with the default (relative) audit key path and no key file in reach."""
    env = {name: value for name, value in os.environ.items() if name != "KIPP_AUDIT_KEY_FILE"}
    env |= {"KIPP_DATABASE_URL": database_url, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def holds_nothing(directory: Path) -> bool:
    return not any(directory.iterdir())


async def test_a_digest_verifies_from_anywhere_with_its_public_key_and_no_key_file_is_made(
    store: PostgresEventStore, database_url: str, tmp_path: Path
) -> None:
    signer = DigestSigner.from_file(str(tmp_path / "kept-elsewhere" / "audit.pem"), create=True)
    head = await verify_chain(store.read_all())
    digest_file = tmp_path / "digest-2023-05.json"
    digest_file.write_text(json.dumps(signer.digest(head.head_position, head.head_hash).model_dump()))
    elsewhere = tmp_path / "another-directory"
    elsewhere.mkdir()

    async def verify(*key: str) -> subprocess.CompletedProcess[str]:
        args = ("audit", "verify", "--digest", str(digest_file), *key)
        return await asyncio.to_thread(kipp_in, elsewhere, database_url, *args)

    carried = await verify()
    assert carried.returncode == 0, carried.stderr
    assert json.loads(carried.stdout)["digest_key_id"] == signer.key_id
    assert f"the public key it carries (key id {signer.key_id})" in carried.stderr
    explicit = await verify("--digest-key", signer.public_key)
    assert explicit.returncode == 0, explicit.stderr
    pem = tmp_path / "audit.pub"
    pem.write_text(signer.verifier.pem())
    from_file = await verify("--digest-key", str(pem))
    assert from_file.returncode == 0, from_file.stderr
    assert holds_nothing(elsewhere)  # verifying made no key file (nor anything else)

    other = DigestSigner(Ed25519PrivateKey.generate())
    refused = await verify("--digest-key", other.public_key)
    assert refused.returncode == 1
    said = f"digest refused: signed with another key ({signer.key_id}), not this one ({other.key_id})"
    assert said in refused.stderr
    assert holds_nothing(elsewhere)


async def test_kipp_audit_digest_never_signs_with_a_key_it_would_have_to_make(
    store: PostgresEventStore, database_url: str, tmp_path: Path
) -> None:
    done = await asyncio.to_thread(kipp_in, tmp_path, database_url, "audit", "digest")
    assert done.returncode == 2
    assert f"no audit key at {tmp_path / '.kipp/audit-signing-key.pem'}" in done.stderr
    assert holds_nothing(tmp_path)
