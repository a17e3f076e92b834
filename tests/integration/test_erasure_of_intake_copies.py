"""`erase` finds intake's plain copies by the person's holdings, so an address whose case folding SQL's
lower() does not match (an internationalised one) loses its plain copy together with its key."""

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from services.intake.application import IntakeService, SubmitProposal
from services.intake.repository import PostgresIntakeRepository
from services.personal_data import erase
from shared.access import Caller, Role
from shared.personal_data.fields import ERASED_INNOVATOR
from shared.personal_data.master_key import MasterKey, load_master_key
from shared.proposal import ProposalBody
from shared.settings import CommonSettings
from tests.fixtures import SUBMITTER, a_proposal, reopened_rounds

PORTAL = Caller(uuid.uuid4(), SUBMITTER.id, Role.SUBMITTER, SUBMITTER.name)


@pytest.fixture
def master() -> MasterKey:
    return load_master_key(CommonSettings().master_key_file)


async def submitted(pool: asyncpg.Pool, master: MasterKey, email: str) -> uuid.UUID:
    posted = a_proposal(innovator={"name": "Hans Straße", "email": email})
    service = IntakeService(PostgresIntakeRepository(pool, master), reopened_rounds())
    command = SubmitProposal(PORTAL, ProposalBody.model_validate(posted), posted, datetime.now(UTC), "c-1")
    return (await service.submit(command)).proposal_id


async def innovator(pool: asyncpg.Pool, proposal_id: uuid.UUID) -> dict[str, Any]:
    found: dict[str, Any] = await pool.fetchval(
        "SELECT body -> 'innovator' FROM intake.proposals WHERE proposal_id = $1", proposal_id
    )
    return found


async def test_an_internationalised_address_loses_its_plain_copy_with_its_key(
    pool: asyncpg.Pool, master: MasterKey
) -> None:
    # Case folded, 'Straße' is 'strasse'; SQL's lower() keeps the 'ß'.
    proposal_id = await submitted(pool, master, "Straße@contoh.go.id")
    other = await submitted(pool, master, "lain@contoh.go.id")

    erasure = await erase(pool, master, "strasse@contoh.go.id")

    report = erasure.report()
    assert report["erased"] is True
    assert report["proposals"] == [str(proposal_id)]
    assert report["intake_copies_erased"] == [str(proposal_id)]
    assert report["intake_copies_remaining"] == []
    assert await innovator(pool, proposal_id) == ERASED_INNOVATOR
    assert (await innovator(pool, other))["email"] == "lain@contoh.go.id"


async def test_a_copy_revised_to_name_someone_else_keeps_that_person(
    pool: asyncpg.Pool, master: MasterKey
) -> None:
    proposal_id = await submitted(pool, master, "budi@contoh.go.id")
    # The proposal now names another person (as a revision leaves it); it still holds Budi's fields.
    await pool.execute(
        "UPDATE intake.proposals SET body = jsonb_set(body, '{innovator}', $2) WHERE proposal_id = $1",
        proposal_id,
        {"name": "Sari", "email": "sari@contoh.go.id"},
    )
    report = (await erase(pool, master, "budi@contoh.go.id")).report()
    assert report["proposals"] == [str(proposal_id)]
    assert report["intake_copies_erased"] == []
    assert (await innovator(pool, proposal_id))["email"] == "sari@contoh.go.id"
