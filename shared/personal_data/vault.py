"""The data keys in PostgreSQL (schema `personal_data`): found by e-mail digest, created when missing,
unwrapped for readers; the master key's check value claimed and checked at start-up."""

import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.db import Connection, connect
from shared.personal_data.fields import NONCE_BYTES, DataKey
from shared.personal_data.master_key import MasterKey, MasterKeyInvalid, load_master_key, normalised_email
from shared.startup import keep_trying

# A person found by digest, or made: one statement. When another transaction inserts the same digest at
# the same moment, ON CONFLICT waits for it and the SELECT (whose snapshot began before) sees nothing;
# asking again then finds the winner's row.
_FIND_OR_MAKE = """
WITH made AS (
    INSERT INTO personal_data.subjects (subject_id, email_digest, email, wrapped_key)
    VALUES ($1, $2, $3, $4) ON CONFLICT (email_digest) DO NOTHING RETURNING subject_id, wrapped_key
)
SELECT subject_id, wrapped_key FROM made
UNION ALL
SELECT subject_id, wrapped_key FROM personal_data.subjects WHERE email_digest = $2
LIMIT 1
"""


def _email_aad(subject_id: UUID) -> bytes:
    return b"kipp subject email " + subject_id.bytes


def encrypt_email(key: DataKey, address: str) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(key.secret).encrypt(
        nonce, normalised_email(address).encode(), _email_aad(key.subject_id)
    )


def decrypt_email(key: DataKey, stored: bytes) -> str:
    return (
        AESGCM(key.secret)
        .decrypt(stored[:NONCE_BYTES], stored[NONCE_BYTES:], _email_aad(key.subject_id))
        .decode()
    )


async def data_key_for(conn: Connection, master: MasterKey, address: str) -> DataKey:
    """The data key of the person with this e-mail address, made (with a new subject id) if there is none."""
    digest = master.email_digest(address)
    for _ in range(2):
        new = DataKey.generate(uuid.uuid4())
        row = await conn.fetchrow(
            _FIND_OR_MAKE,
            new.subject_id,
            digest,
            encrypt_email(new, address),
            master.wrap(new.subject_id, new.secret),
        )
        if row is not None:
            return DataKey(row["subject_id"], master.unwrap(row["subject_id"], bytes(row["wrapped_key"])))
    raise RuntimeError("a data subject was inserted and is not there")  # only if it was erased meanwhile


def unwrapped(master: MasterKey, rows: Iterable[asyncpg.Record]) -> dict[UUID, bytes]:
    """Data keys from rows with `subject_id` and `wrapped_key` (NULL where no key exists: left out)."""
    return {
        row["subject_id"]: master.unwrap(row["subject_id"], bytes(row["wrapped_key"]))
        for row in rows
        if row["wrapped_key"] is not None
    }


async def data_keys(
    conn: Connection | asyncpg.Pool, master: MasterKey, subject_ids: Iterable[UUID]
) -> dict[UUID, bytes]:
    """The keys that still exist among these subjects' (an erased subject has none)."""
    wanted = list(set(subject_ids))
    if not wanted:
        return {}
    rows = await conn.fetch(
        "SELECT subject_id, wrapped_key FROM personal_data.subjects WHERE subject_id = ANY($1)", wanted
    )
    return unwrapped(master, rows)


@dataclass(frozen=True)
class Subject:
    subject_id: UUID
    key: DataKey
    created_at: datetime


async def find_subject(
    conn: Connection, master: MasterKey, address: str, *, for_update: bool = False
) -> Subject | None:
    """The person with this address; `for_update`: their row locked until the transaction ends."""
    row = await conn.fetchrow(
        "SELECT subject_id, wrapped_key, created_at FROM personal_data.subjects WHERE email_digest = $1"
        + (" FOR UPDATE" if for_update else ""),
        master.email_digest(address),
    )
    if row is None:
        return None
    key = DataKey(row["subject_id"], master.unwrap(row["subject_id"], bytes(row["wrapped_key"])))
    return Subject(row["subject_id"], key, row["created_at"])


async def check_master_key(conn: Connection | asyncpg.Pool, master: MasterKey, file: str) -> None:
    """Claims the database for this master key when none has claimed it; raises MasterKeyInvalid, naming
    the file and both check values, when another key wraps its data keys (or when this one cannot unwrap
    one of them)."""
    await conn.execute(
        "INSERT INTO personal_data.master_key (check_value) VALUES ($1) ON CONFLICT DO NOTHING",
        master.check_value,
    )
    claimed = await conn.fetchval("SELECT check_value FROM personal_data.master_key")
    if claimed != master.check_value:
        raise MasterKeyInvalid(
            f"the master key in {file} ({master.check_value}) is not the one that wraps this database's"
            f" data keys ({claimed}): set KIPP_MASTER_KEY_FILE to that key's file"
        )
    sample = await conn.fetch("SELECT subject_id, wrapped_key FROM personal_data.subjects LIMIT 1")
    unwrapped(master, sample)  # raises MasterKeyInvalid if it does not open


async def check_master_key_before_start(database_url: str, master_key_file: str) -> None:
    """What a service checks before it serves (waiting for PostgreSQL): its master key is the database's.
    Raises MasterKeyInvalid (or MasterKeyMissing), which the service reports in one line."""
    master = load_master_key(master_key_file)
    conn = await keep_trying("PostgreSQL", lambda: connect(database_url))
    try:
        await check_master_key(conn, master, master_key_file)
    finally:
        await conn.close()
