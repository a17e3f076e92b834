"""Intake's view takes review's status changes in batches, each with the outcome it would have alone."""

import asyncio
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest

from services.intake.application import ApplyStatusChange
from services.intake.status_updates import StatusUpdates
from shared.lifecycle import Status

AT = datetime(2023, 4, 1, tzinfo=UTC)


async def proposals(pool: asyncpg.Pool, count: int) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(count)]
    await pool.execute(
        "INSERT INTO intake.proposals (proposal_id, owner_id, body, status, submitted_at, updated_at)"
        " SELECT id, gen_random_uuid(), '{}', 'submitted', $2, $2 FROM unnest($1::uuid[]) AS id",
        ids,
        AT,
    )
    return ids


def change(proposal_id: uuid.UUID, status: Status, version: int, **detail: str) -> ApplyStatusChange:
    return ApplyStatusChange(proposal_id, status, version, detail, AT)


async def test_changes_arriving_together_are_each_applied_or_not_as_alone(pool: asyncpg.Pool) -> None:
    ids = await proposals(pool, 50)
    updates = StatusUpdates(pool)
    await updates.apply(change(ids[0], Status.VERIFIED, 3))
    outcomes = await asyncio.gather(
        *(updates.apply(change(i, Status.VERIFIED, 2, notes=f"n{n}")) for n, i in enumerate(ids))
    )
    assert outcomes == [False] + [True] * 49  # the first knew a later version already
    rows = await pool.fetch("SELECT proposal_id, status, review_version, status_detail FROM intake.proposals")
    by_id = {row["proposal_id"]: row for row in rows}
    assert by_id[ids[0]]["review_version"] == 3
    assert all(by_id[i]["review_version"] == 2 and by_id[i]["status"] == "verified" for i in ids[1:])
    assert by_id[ids[7]]["status_detail"] == {"notes": "n7"}


async def test_two_changes_of_one_proposal_apply_in_the_order_they_came(pool: asyncpg.Pool) -> None:
    (proposal_id,) = await proposals(pool, 1)
    updates = StatusUpdates(pool)
    outcomes = await asyncio.gather(
        updates.apply(change(proposal_id, Status.VERIFIED, 2)),
        updates.apply(change(proposal_id, Status.VALIDATED, 3)),
        updates.apply(change(proposal_id, Status.VERIFIED, 2)),  # repeated, late
    )
    assert list(outcomes) == [True, True, False]
    row = await pool.fetchrow("SELECT status, review_version FROM intake.proposals")
    assert row is not None
    assert (row["status"], row["review_version"]) == ("validated", 3)


async def test_a_change_the_table_refuses_fails_alone(pool: asyncpg.Pool) -> None:
    ids = await proposals(pool, 3)
    updates = StatusUpdates(pool)
    outcomes = await asyncio.gather(
        updates.apply(change(ids[0], Status.VERIFIED, 2)),
        updates.apply(change(ids[1], Status.VERIFIED, 2, notes="\u0000")),  # jsonb holds no NUL
        updates.apply(change(ids[2], Status.VERIFIED, 2)),
        return_exceptions=True,
    )
    assert outcomes[0] is True
    assert outcomes[2] is True
    assert isinstance(outcomes[1], asyncpg.DataError)
    rows = await pool.fetch("SELECT proposal_id, review_version FROM intake.proposals")
    versions = {row["proposal_id"]: row["review_version"] for row in rows}
    assert versions == {ids[0]: 2, ids[1]: 0, ids[2]: 2}


async def test_a_database_that_is_away_fails_every_change_waiting(database_url: str) -> None:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    assert pool is not None
    ids = await proposals(pool, 2)
    await pool.close()
    updates = StatusUpdates(pool)
    with pytest.raises(asyncpg.InterfaceError):
        await asyncio.gather(*(updates.apply(change(i, Status.VERIFIED, 2)) for i in ids))
