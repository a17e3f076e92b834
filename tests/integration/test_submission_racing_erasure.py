"""A submission while the innovator is being erased (`kipp personal-data erase` deletes their key between
intake finding it and recording the proposal it encrypted): intake runs the submission again with a fresh
key, and answers 503 with nothing recorded only if the erasures keep coming."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from services.intake.api.proposals import answered
from services.intake.application import Accepted, Idempotency, IntakeService, SubjectErased, SubmitProposal
from services.intake.repository import PostgresIntakeRepository, PostgresIntakeSession
from shared.access import Caller, Role
from shared.db import create_pool
from shared.http import Problem
from shared.personal_data.fields import DataKey
from shared.personal_data.master_key import MasterKey, load_master_key
from shared.personal_data.vault import data_key_for
from shared.proposal import ProposalBody
from shared.settings import CommonSettings
from tests.fixtures import SUBMITTER, a_proposal, reopened_rounds

PORTAL = Caller(uuid.uuid4(), SUBMITTER.id, Role.SUBMITTER, SUBMITTER.name)


@pytest.fixture
def master() -> MasterKey:
    return load_master_key(CommonSettings().master_key_file)


@pytest.fixture
async def service(database_url: str, master: MasterKey) -> AsyncIterator[IntakeService]:
    pool = await create_pool(database_url)
    try:
        yield IntakeService(
            PostgresIntakeRepository(pool, load_master_key(CommonSettings().master_key_file)),
            reopened_rounds(),
        )
    finally:
        await pool.close()


def erased_after_each_lookup(
    monkeypatch: pytest.MonkeyPatch, pool: asyncpg.Pool, times: int
) -> list[uuid.UUID]:
    """The next `times` key lookups are each followed by an erasure of the person found, as the erasure
    does it (the subject deleted, its holdings with it). Returns the subjects erased."""
    erased: list[uuid.UUID] = []
    found = PostgresIntakeSession.data_key

    async def data_key(self: PostgresIntakeSession, email: str) -> DataKey:
        key = await found(self, email)
        if len(erased) < times:
            done = await pool.execute(
                "DELETE FROM personal_data.subjects WHERE subject_id = $1", key.subject_id
            )
            assert done == "DELETE 1"  # a key this session made in its open transaction no one else sees
            erased.append(key.subject_id)
        return key

    monkeypatch.setattr(PostgresIntakeSession, "data_key", data_key)
    return erased


def submission() -> SubmitProposal:
    posted = a_proposal()
    return SubmitProposal(PORTAL, ProposalBody.model_validate(posted), posted, datetime.now(UTC), "c-race")


@pytest.mark.parametrize("keyed", [False, True])
async def test_a_submission_whose_key_is_erased_meanwhile_is_recorded_with_a_fresh_key(
    service: IntakeService,
    pool: asyncpg.Pool,
    master: MasterKey,
    monkeypatch: pytest.MonkeyPatch,
    keyed: bool,
) -> None:
    # The person submitted before: their key exists, committed, for the erasure to find. (A key made in
    # the submission's own open transaction is not there for an erasure to delete.)
    async with pool.acquire() as conn:
        await data_key_for(conn, master, a_proposal()["innovator"]["email"])
    erased = erased_after_each_lookup(monkeypatch, pool, times=1)
    once = Idempotency("race-1", b"h" * 32) if keyed else None
    accepted = await service.submit(submission(), once)

    holders = await pool.fetch(
        "SELECT h.subject_id FROM personal_data.holdings AS h JOIN personal_data.subjects USING (subject_id)"
        " WHERE h.proposal_id = $1",
        accepted.proposal_id,
    )
    assert len(erased) == 1
    assert [row["subject_id"] for row in holders] != erased  # a fresh subject, not the one erased
    assert len(holders) == 1
    assert await pool.fetchval("SELECT count(*) FROM intake.proposals") == 1
    assert await pool.fetchval("SELECT count(*) FROM intake.outbox") == 1


async def test_a_submission_erased_at_every_attempt_records_nothing(
    service: IntakeService, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    erased = erased_after_each_lookup(monkeypatch, pool, times=100)
    with pytest.raises(SubjectErased):
        await service.submit(submission())
    assert len(erased) == 3
    for table in ("intake.proposals", "intake.outbox", "personal_data.holdings"):
        assert await pool.fetchval(f"SELECT count(*) FROM {table}") == 0, table


async def test_a_submission_still_racing_erasures_is_answered_503_with_retry_after() -> None:
    async def racing() -> Accepted:
        raise SubjectErased()

    with pytest.raises(Problem) as refused:
        await answered(racing())
    assert (refused.value.status, refused.value.title) == (503, "Service unavailable")
    assert refused.value.headers == {"Retry-After": "1"}
