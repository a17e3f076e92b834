"""The services' database role: whoever holds its credentials cannot change history. And existing keys and
proposals move to holders when the database is migrated."""

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.review.eventstore.base import NewEvent
from services.review.eventstore.postgres import PostgresEventStore
from shared.db import RuntimeRoleRefused, create_pool, grant_runtime_role, migrate, shipped_migrations
from shared.settings import CommonSettings
from tests import services


@pytest.fixture
async def as_service(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool as the services connect: the runtime role, not the owner."""
    url = CommonSettings(database_url=database_url).runtime_database_url
    pool = await create_pool(url, min_size=1, max_size=2)
    try:
        yield pool
    finally:
        await pool.close()


async def test_the_runtime_role_appends_through_the_store(as_service: asyncpg.Pool) -> None:
    store = PostgresEventStore(as_service)
    event = NewEvent(uuid.uuid4(), "ProposalSubmitted", 1, {"n": 1}, {})
    try:
        result = await store.append(uuid.uuid4(), 0, [event])
    finally:
        await store.stop()
    assert result.last_position == 1
    assert await as_service.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user") is False


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE review.events DISABLE TRIGGER events_refuse_update_delete",
        "ALTER TABLE review.events DISABLE TRIGGER ALL",
        "UPDATE review.events SET data = '{}'",
        "DELETE FROM review.events",
        "TRUNCATE review.events",
        "INSERT INTO review.events SELECT * FROM review.events",
        "DROP TABLE review.events",
        "DROP FUNCTION review.refuse_history_change() CASCADE",
        "ALTER FUNCTION review.append_event(bigint, bytea, integer, bigint, uuid, integer, uuid, text,"
        " integer, jsonb, jsonb, timestamptz, bytea) SECURITY INVOKER",
        "ALTER FUNCTION review.append_one(bigint, bytea, integer, bigint, uuid, integer, uuid, text,"
        " integer, jsonb, jsonb, timestamptz, bytea) SECURITY INVOKER",
        "CREATE OR REPLACE FUNCTION review.refuse_history_change() RETURNS trigger LANGUAGE plpgsql"
        " AS $$ BEGIN RETURN NULL; END $$",
        "LOCK TABLE review.events IN ACCESS EXCLUSIVE MODE",
        "UPDATE access.api_keys SET revoked_at = NULL",
    ],
)
async def test_the_runtime_role_cannot_change_history(
    as_service: asyncpg.Pool, pool: asyncpg.Pool, statement: str
) -> None:
    owner_store = PostgresEventStore(pool)
    await owner_store.append(uuid.uuid4(), 0, [NewEvent(uuid.uuid4(), "ProposalSubmitted", 1, {"n": 1}, {})])
    await owner_store.stop()
    async with as_service.acquire() as conn, conn.transaction():
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(statement)
    assert await pool.fetchval("SELECT count(*) FROM review.events") == 1


async def test_a_superuser_is_refused_as_the_runtime_role(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        with pytest.raises(RuntimeRoleRefused):
            await grant_runtime_role(conn, "postgres")
    finally:
        await conn.close()


async def test_existing_keys_and_proposals_move_to_holders(postgres_server_url: str) -> None:
    """A database from before holders: two keys with one name (which shared proposals), one with another."""
    name = services.unique_name("holders")
    admin = await asyncpg.connect(postgres_server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = services.database_url(postgres_server_url, name)
    before = [m for m in shipped_migrations() if m.name.startswith("0001")]
    try:
        await migrate(url, before)
        conn = await asyncpg.connect(url)
        try:
            keys = {
                uuid.uuid4(): "Portal Diskominfo",
                uuid.uuid4(): "Portal Diskominfo",
                uuid.uuid4(): "PDAM",
            }
            for key_id, holder in keys.items():
                await conn.execute(
                    "INSERT INTO access.api_keys (id, key_hash, role, name) VALUES ($1, $2, 'submitter', $3)",
                    key_id,
                    key_id.bytes,
                    holder,
                )
            proposal = uuid.uuid4()
            await conn.execute(
                "INSERT INTO intake.proposals (proposal_id, owner, body, status, submitted_at, updated_at)"
                " VALUES ($1, 'Portal Diskominfo', '{}', 'submitted', now(), now())",
                proposal,
            )
            await conn.execute(
                "INSERT INTO intake.idempotency_keys (owner, key, request_hash)"
                " VALUES ('PDAM', 'k-1', '\\x00')"
            )
            applied = await migrate(url)
            assert "access/0002_holders.sql" in applied
            holders = {
                row["name"]: row["id"] for row in await conn.fetch("SELECT id, name FROM access.holders")
            }
            assert set(holders) == {"Portal Diskominfo", "PDAM"}
            by_key = {
                row["id"]: row["holder_id"]
                for row in await conn.fetch("SELECT id, holder_id FROM access.api_keys")
            }
            assert {by_key[k] for k, holder in keys.items() if holder == "Portal Diskominfo"} == {
                holders["Portal Diskominfo"]
            }
            owner = await conn.fetchval(
                "SELECT owner_id FROM intake.proposals WHERE proposal_id = $1", proposal
            )
            assert owner == holders["Portal Diskominfo"]
            assert await conn.fetchval("SELECT owner_id FROM intake.idempotency_keys") == holders["PDAM"]
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
