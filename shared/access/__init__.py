"""API keys and roles, shared by both services and managed from the CLI (schema `access`).

A key belongs to a holder (one per role and name): the holder is who acts, the actor recorded in every
event, and the owner of a submitter's proposals, so a holder whose key is replaced keeps its proposals.
"""

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import asyncpg
from pydantic import BaseModel, ConfigDict, Field

from shared.db import Connection
from shared.proposal import Text

KEY_PREFIX = "kipp_"


class Role(StrEnum):
    SUBMITTER = "submitter"
    REVIEWER = "reviewer"
    AUDITOR = "auditor"


class Actor(BaseModel):
    """Who acted, as every event records it: the holder (its id, name and role) and the key it used."""

    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID
    name: Text = Field(min_length=1, max_length=200)
    role: Role
    key_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Caller:
    key_id: uuid.UUID
    holder_id: uuid.UUID
    role: Role
    name: str

    def as_actor(self) -> Actor:
        return Actor(id=self.holder_id, name=self.name, role=self.role, key_id=self.key_id)


@dataclass(frozen=True)
class KeyRecord:
    id: uuid.UUID
    holder_id: uuid.UUID
    role: Role
    name: str
    created_at: datetime
    revoked_at: datetime | None


class HolderExists(Exception):
    """A holder of that role and name exists: a new key for it is a rotation, never a second holder."""


class NoSuchHolder(Exception):
    pass


def key_hash(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


async def _add_key(conn: Connection, holder_id: uuid.UUID) -> tuple[uuid.UUID, str]:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    key_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO access.api_keys (id, key_hash, holder_id) VALUES ($1, $2, $3)",
        key_id,
        key_hash(key),
        holder_id,
    )
    return key_id, key


async def create_key(pool: asyncpg.Pool, role: Role, name: str) -> tuple[uuid.UUID, str]:
    """A new holder and its first key. Returns the key's id and the key itself, which is stored nowhere.
    Raises HolderExists when the role has a holder of that name."""
    async with pool.acquire() as conn, conn.transaction():
        holder_id = await conn.fetchval(
            "INSERT INTO access.holders (id, role, name) VALUES ($1, $2, $3)"
            " ON CONFLICT (role, name) DO NOTHING RETURNING id",
            uuid.uuid4(),
            role.value,
            name,
        )
        if holder_id is None:
            raise HolderExists(f"a {role.value} named {name!r} exists already")
        return await _add_key(conn, holder_id)


async def rotate_key(pool: asyncpg.Pool, role: Role, name: str) -> tuple[uuid.UUID, str]:
    """Another key for an existing holder (its earlier keys stay valid until revoked)."""
    async with pool.acquire() as conn, conn.transaction():
        holder_id = await conn.fetchval(
            "SELECT id FROM access.holders WHERE role = $1 AND name = $2", role.value, name
        )
        if holder_id is None:
            raise NoSuchHolder(f"no {role.value} named {name!r}")
        return await _add_key(conn, holder_id)


async def key_for(pool: asyncpg.Pool, role: Role, name: str) -> tuple[uuid.UUID, str]:
    """A new key for the holder, creating the holder first when there is none."""
    try:
        return await create_key(pool, role, name)
    except HolderExists:
        return await rotate_key(pool, role, name)


async def list_keys(pool: asyncpg.Pool) -> list[KeyRecord]:
    rows = await pool.fetch(
        "SELECT k.id, k.holder_id, h.role, h.name, k.created_at, k.revoked_at"
        " FROM access.api_keys AS k JOIN access.holders AS h ON h.id = k.holder_id ORDER BY k.created_at"
    )
    return [
        KeyRecord(r["id"], r["holder_id"], Role(r["role"]), r["name"], r["created_at"], r["revoked_at"])
        for r in rows
    ]


async def revoke_key(pool: asyncpg.Pool, key_id: uuid.UUID) -> bool:
    """True if the key existed and was active. Revocation is immediate: every request looks the key up."""
    status = await pool.execute(
        "UPDATE access.api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", key_id
    )
    return bool(status == "UPDATE 1")


# For a hot read that looks its caller up in the same query as what it reads (one round trip, not two):
# `SELECT CALLER_COLUMNS, ... FROM CALLER_FROM LEFT JOIN <what is read> ... WHERE CALLER_IS_KEY` with the
# key's hash as $1; `caller_in(row)` is then what `authenticate` would answer.
CALLER_COLUMNS = "k.id AS caller_id, h.id AS caller_holder_id, h.role AS caller_role, h.name AS caller_name"
CALLER_FROM = "access.api_keys AS k JOIN access.holders AS h ON h.id = k.holder_id"
CALLER_IS_KEY = "k.key_hash = $1 AND k.revoked_at IS NULL"


def caller_in(row: asyncpg.Record | None) -> Caller | None:
    if row is None:
        return None
    return Caller(row["caller_id"], row["caller_holder_id"], Role(row["caller_role"]), row["caller_name"])


async def authenticate(pool: asyncpg.Pool, key: str) -> Caller | None:
    row = await pool.fetchrow(
        f"SELECT {CALLER_COLUMNS} FROM {CALLER_FROM} WHERE {CALLER_IS_KEY}", key_hash(key)
    )
    return caller_in(row)
