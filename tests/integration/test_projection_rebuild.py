"""The status projection rebuilt from history beside the live one, while appends continue; old events
read through their upcasters."""

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from services.review import rebuild
from services.review.application import ReviewService, fold_history
from services.review.audit import verify_chain
from services.review.consumer import intake_command
from services.review.domain.commands import RequestRevision, VerifyProposal
from services.review.domain.decider import NOT_SUBMITTED
from services.review.domain.events import UnknownEventType
from services.review.eventstore.base import NewEvent
from services.review.eventstore.postgres import PostgresEventStore, row_to_event
from services.review.projection import StatusProjector, write_folded
from services.review.rebuild import rebuild_status_projection
from shared.contract import PROPOSAL_REVISED, PROPOSAL_SUBMITTED, new_envelope
from shared.lifecycle import CheckOutcome
from tests.fixtures import REVIEWER_ACTOR, SUBMITTER, demo_proposals, encrypted, reopened_rounds

REVIEWER = {"actor": REVIEWER_ACTOR, "correlation_id": "c", "source": "test"}


async def submit(service: ReviewService, number: int) -> uuid.UUID:
    text = demo_proposals()[number % 5]
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
    return envelope.proposal_id


async def revise(service: ReviewService, proposal_id: uuid.UUID, title: str) -> None:
    await service.decide(proposal_id, lambda at: RequestRevision(at=at, reasons=("judul",)), REVIEWER)
    text = {**demo_proposals()[0], "title": title}
    envelope = new_envelope(
        PROPOSAL_REVISED,
        proposal_id,
        datetime.now(UTC),
        text,
        actor=SUBMITTER,
        sequence=2,
        source="t",
        correlation_id="c",
    )
    await service.record_intake_event(intake_command(encrypted(envelope)))


async def replayed(pool: asyncpg.Pool) -> dict[uuid.UUID, tuple[int, dict[str, Any]]]:
    """What the projection must hold: every stream folded from the store."""
    streams: dict[uuid.UUID, list[Any]] = {}
    for row in await pool.fetch("SELECT * FROM review.events ORDER BY position"):
        event = row_to_event(row)
        streams.setdefault(event.stream_id, []).append(event)
    folded = {stream: fold_history(history) for stream, history in streams.items()}
    return {stream: (f.version, f.state.model_dump(mode="json")) for stream, f in folded.items() if f.state}


async def projected(pool: asyncpg.Pool) -> dict[uuid.UUID, tuple[int, dict[str, Any]]]:
    rows = await pool.fetch("SELECT proposal_id, version, state, body FROM review.proposal_status")
    return {row["proposal_id"]: (row["version"], {**row["state"], "proposal": row["body"]}) for row in rows}


# The rebuild reads its next batch while it applies the last, and folds a batch in slices: small batches
# and slices make many of them, with proposals whose events span batches and slices.
@pytest.mark.parametrize(("batch", "fold_slice"), [(rebuild.REBUILD_BATCH, rebuild.FOLD_SLICE), (37, 7)])
async def test_a_rebuild_while_appends_continue_equals_the_history_and_readers_never_see_a_partial_table(
    pool: asyncpg.Pool, batch: int, fold_slice: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rebuild, "REBUILD_BATCH", batch)
    monkeypatch.setattr(rebuild, "FOLD_SLICE", fold_slice)
    store = PostgresEventStore(pool)
    service = ReviewService(store, reopened_rounds())
    live = StatusProjector(pool)
    ids = [await submit(service, n) for n in range(400)]
    for proposal_id in ids[:200]:
        await service.decide(
            proposal_id, lambda at: VerifyProposal(at=at, outcome=CheckOutcome.PASSED), REVIEWER
        )
    for number, proposal_id in enumerate(ids[300:320]):
        await revise(service, proposal_id, f"Versi kedua {number}")
    await live.catch_up()
    assert (
        await pool.fetchval(
            "SELECT body ->> 'title' FROM review.proposal_status WHERE proposal_id = $1", ids[305]
        )
        == "Versi kedua 5"
    )
    before = await pool.fetchval("SELECT count(*) FROM review.proposal_status")

    appending = True
    smallest_seen = before

    async def keep_appending() -> int:
        count = 0
        while appending:
            await submit(service, count)
            await live.catch_up()
            count += 1
        return count

    async def keep_reading() -> None:
        nonlocal smallest_seen
        while appending:
            smallest_seen = min(
                smallest_seen, await pool.fetchval("SELECT count(*) FROM review.proposal_status")
            )
            await asyncio.sleep(0.005)

    writer, reader = asyncio.create_task(keep_appending()), asyncio.create_task(keep_reading())
    report = await rebuild_status_projection(pool)
    appending = False
    added = await writer
    await reader
    await live.catch_up()
    await store.stop()

    assert added > 0  # events really did arrive during the rebuild
    assert report.events >= 640
    assert smallest_seen >= before
    assert await projected(pool) == await replayed(pool)
    assert await leftover_checkpoints(pool) == 0


async def test_an_event_stored_at_an_old_schema_version_is_read_upcast_and_still_verifies(
    pool: asyncpg.Pool, database_url: str
) -> None:
    store = PostgresEventStore(pool)
    service = ReviewService(store, reopened_rounds())
    proposal_id = await submit(service, 0)
    # A verification as the first release stored it: checklist items were plain booleans (version 1).
    old = NewEvent(
        uuid.uuid4(),
        "ProposalVerified",
        1,
        {"at": datetime.now(UTC).isoformat(), "checklist": {"SK inisiator": True}, "notes": "lengkap"},
        REVIEWER,
    )
    await store.append(proposal_id, 1, [old])

    folded = await service.load(proposal_id)
    assert folded.state is not NOT_SUBMITTED
    assert folded.state.verification is not None
    assert folded.state.verification["checklist"] == {"SK inisiator": {"passed": True, "note": ""}}
    assert (await verify_chain(store.read_all())).intact
    stored = await pool.fetchrow(
        "SELECT schema_version, data FROM review.events WHERE event_id = $1", old.event_id
    )
    assert stored is not None
    assert (stored["schema_version"], stored["data"]["checklist"]) == (1, {"SK inisiator": True})  # untouched

    env = {**os.environ, "KIPP_DATABASE_URL": database_url}
    command = [sys.executable, "-m", "services.cli", "projections", "rebuild"]
    done = await asyncio.to_thread(subprocess.run, command, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines() == [
        "rebuilt the status projection from 2 events (up to position 2)",
        "rebuilt the resemblances from 2 events (up to position 2)",
    ]
    row = await pool.fetchrow("SELECT state FROM review.proposal_status WHERE proposal_id = $1", proposal_id)
    assert row is not None
    assert row["state"]["verification"]["checklist"] == {"SK inisiator": {"passed": True, "note": ""}}
    await store.stop()


async def test_a_rebuild_that_fails_part_way_leaves_no_build_behind_and_the_live_projection_as_it_was(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rebuild, "REBUILD_BATCH", 37)  # several batches written before the failing one
    store = PostgresEventStore(pool)
    service = ReviewService(store, reopened_rounds())
    live = StatusProjector(pool)
    ids = [await submit(service, n) for n in range(120)]
    await live.catch_up()
    before = await projected(pool)
    # An event this code cannot read (stored by a newer release, say): folding it fails the rebuild.
    newer = NewEvent(uuid.uuid4(), "ProposalVerified", 9, {"at": datetime.now(UTC).isoformat()}, REVIEWER)
    await store.append(ids[100], 1, [newer])

    with pytest.raises(UnknownEventType, match="newer than this code"):
        await rebuild_status_projection(pool)
    await store.stop()

    tables = await pool.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'review' AND tablename LIKE 'proposal_status%'"
    )
    assert [row["tablename"] for row in tables] == ["proposal_status"]
    assert await leftover_checkpoints(pool) == 0
    assert await projected(pool) == before


async def test_a_rebuild_whose_writing_fails_stops_with_that_error_and_leaves_no_build_behind(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rebuild, "REBUILD_BATCH", 37)
    store = PostgresEventStore(pool)
    service = ReviewService(store, reopened_rounds())
    for n in range(200):
        await submit(service, n)
    await store.stop()
    written = 0

    async def write_some(*args: Any) -> None:
        nonlocal written
        if written == 2:
            raise ConnectionError("the database went away")
        await write_folded(*args)
        written += 1

    monkeypatch.setattr(rebuild, "write_folded", write_some)
    with pytest.raises(ConnectionError, match="went away"):
        await asyncio.wait_for(rebuild_status_projection(pool), 30)  # the other stages must not hang
    tables = await pool.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'review' AND tablename LIKE 'proposal_status%'"
    )
    assert [row["tablename"] for row in tables] == ["proposal_status"]
    assert await leftover_checkpoints(pool) == 0


async def leftover_checkpoints(pool: asyncpg.Pool) -> int:
    """Checkpoints a rebuild made for itself and did not remove."""
    return int(
        await pool.fetchval("SELECT count(*) FROM review.projection_checkpoints WHERE name LIKE 'rebuild_%'")
    )


async def test_texts_are_stored_compressed_with_lz4_also_in_a_rebuilt_table(pool: asyncpg.Pool) -> None:
    # The server CI runs is built with lz4 (Debian's and the official images): the migrations choose it for
    # the event store's JSON and the projection's texts, and a rebuilt table keeps the live one's choice.
    store = PostgresEventStore(pool)
    service = ReviewService(store, reopened_rounds())
    try:
        proposal_id = await submit(service, 0)
    finally:
        await store.stop()
    event_compression = "SELECT pg_column_compression(data) FROM review.events WHERE stream_id = $1"
    body_compression = "SELECT pg_column_compression(body) FROM review.proposal_status WHERE proposal_id = $1"
    assert await pool.fetchval(event_compression, proposal_id) == "lz4"
    await StatusProjector(pool).catch_up()
    assert await pool.fetchval(body_compression, proposal_id) == "lz4"
    await rebuild_status_projection(pool)
    assert await pool.fetchval(body_compression, proposal_id) == "lz4"
