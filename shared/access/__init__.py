"""API keys and roles, shared by both services and managed from the CLI (schema `access`).

A key's holder (its name) is who acts: the actor recorded in every event, and the owner of a submitter's
proposals, so a holder whose key is replaced keeps its proposals.
"""

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import asyncpg

KEY_PREFIX = "kipp_"


class Role(StrEnum):
    SUBMITTER = "submitter"
    REVIEWER = "reviewer"
    AUDITOR = "auditor"


@dataclass(frozen=True)
class Caller:
    key_id: uuid.UUID
    role: Role
    name: str

    def as_actor(self) -> dict[str, Any]:
        return {"id": str(self.key_id), "name": self.name, "role": self.role.value}


@dataclass(frozen=True)
class KeyRecord:
    id: uuid.UUID
    role: Role
    name: str
    created_at: datetime
    revoked_at: datetime | None


def key_hash(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


async def create_key(pool: asyncpg.Pool, role: Role, name: str) -> tuple[uuid.UUID, str]:
    """Returns the new key's id and the key itself, which is stored nowhere."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    key_id = uuid.uuid4()
    await pool.execute(
        "INSERT INTO access.api_keys (id, key_hash, role, name) VALUES ($1, $2, $3, $4)",
        key_id,
        key_hash(key),
        role.value,
        name,
    )
    return key_id, key


async def list_keys(pool: asyncpg.Pool) -> list[KeyRecord]:
    rows = await pool.fetch(
        "SELECT id, role, name, created_at, revoked_at FROM access.api_keys ORDER BY created_at"
    )
    return [KeyRecord(r["id"], Role(r["role"]), r["name"], r["created_at"], r["revoked_at"]) for r in rows]


async def revoke_key(pool: asyncpg.Pool, key_id: uuid.UUID) -> bool:
    """True if the key existed and was active. Revocation is immediate: every request looks the key up."""
    status = await pool.execute(
        "UPDATE access.api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", key_id
    )
    return bool(status == "UPDATE 1")


async def authenticate(pool: asyncpg.Pool, key: str) -> Caller | None:
    row = await pool.fetchrow(
        "SELECT id, role, name FROM access.api_keys WHERE key_hash = $1 AND revoked_at IS NULL", key_hash(key)
    )
    return Caller(row["id"], Role(row["role"]), row["name"]) if row else None


# For a hot read that looks its caller up in the same query as what it reads (one round trip, not two):
# joined as `... FROM access.api_keys AS k LEFT JOIN <what is read> ... WHERE <CALLER_IS_KEY>` with the
# key's hash as $1, selecting CALLER_COLUMNS; `caller_in(row)` is then what `authenticate` would answer.
CALLER_COLUMNS = "k.id AS caller_id, k.role AS caller_role, k.name AS caller_name"
CALLER_IS_KEY = "k.key_hash = $1 AND k.revoked_at IS NULL"


def caller_in(row: asyncpg.Record | None) -> Caller | None:
    return Caller(row["caller_id"], Role(row["caller_role"]), row["caller_name"]) if row else None
