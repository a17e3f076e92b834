"""PostgreSQL connections and schema migrations, shared by both services and the CLI."""

import contextlib
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

# What a function that runs SQL accepts: a plain connection or one borrowed from a pool.
Connection = asyncpg.Connection | PoolConnectionProxy

# One advisory lock key for all migrations: two processes migrating at once take turns.
MIGRATION_LOCK = 7_401_2023


class JsonText(str):
    """JSON already encoded (the event store's RFC 8785 bytes, say): written to json and jsonb as it is,
    not encoded again."""


def _encode_json(value: Any) -> str:
    return value if type(value) is JsonText else json.dumps(value)


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(type_name, encoder=_encode_json, decoder=json.loads, schema="pg_catalog")


async def _keep_session(_: asyncpg.Connection) -> None:
    """Returning a connection to the pool skips the reset query (UNLISTEN, RESET ALL, advisory unlocks):
    a round trip on every use, for session state this code never leaves on a pooled connection. asyncpg
    still rolls back a transaction left open and drops listeners before calling this."""


async def create_pool(
    dsn: str, *, min_size: int = 2, max_size: int = 10, application_name: str = "kipp", **kwargs: Any
) -> asyncpg.Pool:
    """A pool whose connections read and write json/jsonb as Python values, named in pg_stat_activity."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        reset=_keep_session,
        server_settings={"application_name": application_name},
        **kwargs,
    )
    assert pool is not None
    return pool


async def connect(dsn: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn


@dataclass(frozen=True)
class Migration:
    schema: str
    name: str
    sql: str


# Each schema and the package whose migrations/ folder creates it, in the order they are applied.
SCHEMAS = (("access", "shared.access"), ("intake", "services.intake"), ("review", "services.review"))


def shipped_migrations() -> list[Migration]:
    """Every schema's SQL files, schema by schema, each in name order."""
    found = []
    for schema, package in SCHEMAS:
        folder = resources.files(package).joinpath("migrations")
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".sql"):
                found.append(Migration(schema, entry.name, entry.read_text(encoding="utf-8")))
    return found


async def migrate(
    dsn: str,
    migrations: list[Migration] | None = None,
    runtime_role: str = "kipp_app",
    runtime_password: str | None = None,
) -> list[str]:
    """Applies what is not yet applied, as the owner `dsn` names, then creates the services' runtime role
    when missing and grants it what it may do. Idempotent, and safe from several processes at once."""
    applied_now = []
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
        for migration in migrations if migrations is not None else shipped_migrations():
            # Each service records its migrations in its own schema, beside its tables.
            ledger = f"{migration.schema}.schema_migrations"
            await conn.execute(
                f"CREATE SCHEMA IF NOT EXISTS {migration.schema};"
                f"CREATE TABLE IF NOT EXISTS {ledger} (name text PRIMARY KEY, applied_at timestamptz NOT NULL"
                " DEFAULT now())"
            )
            if await conn.fetchval(f"SELECT 1 FROM {ledger} WHERE name = $1", migration.name):
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(f"INSERT INTO {ledger} (name) VALUES ($1)", migration.name)
            applied_now.append(f"{migration.schema}/{migration.name}")
        if migrations is None:
            await grant_runtime_role(conn, runtime_role, runtime_password)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
        await conn.close()
    return applied_now


class RuntimeRoleRefused(Exception):
    """The role named for the services would hold more than they may: a superuser, or the owner."""


async def grant_runtime_role(conn: asyncpg.Connection, role: str, password: str | None = None) -> None:
    """Creates the services' login role when missing (a role belongs to the whole server, so another
    database may have created it already) and grants it exactly runtime_role.sql."""
    name = await conn.fetchval("SELECT quote_ident($1)", role)
    found = await conn.fetchrow("SELECT rolsuper FROM pg_roles WHERE rolname = $1", role)
    if found is None:
        with contextlib.suppress(asyncpg.DuplicateObjectError):  # created by another migration just now
            await conn.execute(f"CREATE ROLE {name} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE")
    elif found["rolsuper"] or role == await conn.fetchval("SELECT current_user"):
        raise RuntimeRoleRefused(f"the services' role {role!r} must be neither a superuser nor the owner")
    if password is not None:
        await conn.execute(
            f"ALTER ROLE {name} PASSWORD {await conn.fetchval('SELECT quote_literal($1)', password)}"
        )
    grants = resources.files("shared.access").joinpath("runtime_role.sql").read_text(encoding="utf-8")
    await conn.execute(grants.replace("{role}", name))


async def ensure_database(dsn: str) -> bool:
    """Creates the database named in `dsn` when it is missing (used by `make run`). True if created."""
    base, _, name = dsn.rpartition("/")
    name, question, query = name.partition("?")  # the query stays: target_session_attrs picks the primary
    admin = await asyncpg.connect(f"{base}/postgres{question}{query}")
    try:
        if await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        except asyncpg.DuplicateDatabaseError:  # another process created it a moment ago
            return False
        return True
    finally:
        await admin.close()
