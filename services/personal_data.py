"""Answering a person's requests about their personal data (UU PDP 27/2022), for the operator's CLI:
access (what is held, and where), erasure, and rotating the master key. Runs as the database's owner.

Erasure destroys the person's data key and intake's plain copy in one transaction, then records
`PersonalDataErased` (the subject's random id, nothing else) in the stream of each proposal that held
their fields. A stream that is not in review yet (its submission still on its way) keeps its erasure
pending: the next `erase` records it. Nothing in the event store changes: the fields there were
encrypted with the key now destroyed, so no one can read them again, and every hash, tree and
certificate over them still verifies.
"""

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg

from services.intake.repository import erase_own_copies
from services.review.application import ReviewService
from services.review.domain.commands import RecordErasure
from services.review.domain.decider import ProposalNotFound
from services.review.eventstore.base import ConcurrencyError
from services.review.eventstore.postgres import PostgresEventStore
from shared.db import Connection
from shared.personal_data.fields import DataKey, decrypt_innovator
from shared.personal_data.master_key import (
    MasterKey,
    MasterKeyInvalid,
    load_master_key,
    write_new_master_key,
)
from shared.personal_data.vault import Subject, decrypt_email, encrypt_email, find_subject

SERVICES = ("kipp-intake", "kipp-review")
ERASURE_ACTOR = {"role": "operator", "name": "kipp personal-data erase"}


def _plain_address(address: str) -> str:
    """How intake's plain copies are matched in SQL (lower(btrim(...)))."""
    return address.strip().lower()


async def _intake_copies(conn: Connection, address: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT proposal_id, body ->> 'title' AS title, body -> 'innovator' AS innovator"
        " FROM intake.proposals WHERE lower(btrim(body #>> '{innovator,email}')) = $1 ORDER BY seq",
        _plain_address(address),
    )


async def _plain_events(conn: Connection, address: str) -> list[dict[str, Any]]:
    """Events recorded before the fields were encrypted that name this address in plain text."""
    rows = await conn.fetch(
        "SELECT position, stream_id FROM review.events"
        " WHERE lower(btrim(data #>> '{proposal,innovator,email}')) = $1 ORDER BY position",
        _plain_address(address),
    )
    return [{"position": row["position"], "proposal_id": str(row["stream_id"])} for row in rows]


async def _encrypted_events(conn: Connection, subject: Subject) -> list[dict[str, Any]]:
    """Every event holding the subject's fields, with the fields as they decrypt."""
    rows = await conn.fetch(
        "SELECT e.position, e.stream_id, e.event_id, e.data -> 'proposal' -> 'innovator' AS innovator"
        " FROM review.events AS e JOIN personal_data.holdings AS h ON h.proposal_id = e.stream_id"
        " WHERE h.subject_id = $1 AND e.data #>> '{proposal,innovator,email,subject}' = $2"
        " ORDER BY e.position",
        subject.subject_id,
        str(subject.subject_id),
    )
    keys = {subject.subject_id: subject.key.secret}
    return [
        {
            "position": row["position"],
            "proposal_id": str(row["stream_id"]),
            "innovator": decrypt_innovator(row["innovator"], row["event_id"], keys),
        }
        for row in rows
    ]


async def show(pool: asyncpg.Pool, master: MasterKey, address: str) -> dict[str, Any]:
    """What the ledger holds of the person with this address: an access request's answer."""
    async with pool.acquire() as conn:
        subject = await find_subject(conn, master, address)
        holdings: list[UUID] = []
        events: list[dict[str, Any]] = []
        if subject is not None:
            holdings = [
                row["proposal_id"]
                for row in await conn.fetch(
                    "SELECT proposal_id FROM personal_data.holdings WHERE subject_id = $1"
                    " ORDER BY proposal_id",
                    subject.subject_id,
                )
            ]
            events = await _encrypted_events(conn, subject)
        copies = await _intake_copies(conn, address)
        plain = await _plain_events(conn, address)
    return {  # the address asked about is not repeated: it may belong to someone erased already
        "subject": str(subject.subject_id) if subject else None,
        "key_created_at": subject.created_at.isoformat() if subject else None,
        "proposals": sorted({str(p) for p in holdings} | {str(row["proposal_id"]) for row in copies}),
        "intake_copies": [
            {"proposal_id": str(row["proposal_id"]), "title": row["title"], "innovator": row["innovator"]}
            for row in copies
        ],
        "encrypted_in_events": events,
        "plain_text_events": plain,
    }


@dataclass(frozen=True)
class Erasure:
    subject: UUID | None
    proposals: list[UUID]
    intake_copies_erased: list[UUID]
    recorded: list[dict[str, Any]]
    pending: list[dict[str, Any]]
    plain_text_events: list[dict[str, Any]]

    def report(self) -> dict[str, Any]:
        """What was done, without the address (the point is that it is gone)."""
        return {
            "erased": self.subject is not None or bool(self.intake_copies_erased),
            "subject": str(self.subject) if self.subject else None,
            "proposals": [str(p) for p in self.proposals],
            "intake_copies_erased": [str(p) for p in self.intake_copies_erased],
            "erasure_events": self.recorded,
            "pending": self.pending,
            "plain_text_events": self.plain_text_events,
        }


async def erase(pool: asyncpg.Pool, master: MasterKey, address: str) -> Erasure:
    """Erases the person with this address: their key and intake's plain copies, then records the
    erasure in the streams of the proposals that held their fields. Harmless when repeated: a person
    erased already has no key to find, and nothing is recorded twice."""
    async with pool.acquire() as conn, conn.transaction():
        subject = await find_subject(conn, master, address, for_update=True)
        proposals: list[UUID] = []
        if subject is not None:
            proposals = [
                row["proposal_id"]
                for row in await conn.fetch(
                    "SELECT proposal_id FROM personal_data.holdings WHERE subject_id = $1", subject.subject_id
                )
            ]
            await conn.execute(
                "INSERT INTO personal_data.erasures (subject_id, proposal_id)"
                " SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING",
                subject.subject_id,
                proposals,
            )
            # The key goes, and with it the person's holdings (ON DELETE CASCADE).
            await conn.execute("DELETE FROM personal_data.subjects WHERE subject_id = $1", subject.subject_id)
        copies = await erase_own_copies(conn, _plain_address(address))
        plain = await _plain_events(conn, address)
    recorded, pending = await record_pending_erasures(pool)
    return Erasure(subject.subject_id if subject else None, proposals, copies, recorded, pending, plain)


async def record_pending_erasures(pool: asyncpg.Pool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Records PersonalDataErased for every erasure not yet in its proposal's stream. Returns what it
    recorded and what is still pending (a proposal review has not recorded yet)."""
    rows = await pool.fetch(
        "SELECT subject_id, proposal_id FROM personal_data.erasures WHERE recorded_position IS NULL"
        " ORDER BY erased_at, proposal_id"
    )
    if not rows:
        return [], []
    store = PostgresEventStore(pool)
    await store.start()
    service = ReviewService(store)
    recorded, pending = [], []
    try:
        for row in rows:
            item = {"subject": str(row["subject_id"]), "proposal_id": str(row["proposal_id"])}
            position = await _record_erasure(service, row["subject_id"], row["proposal_id"])
            if position is None:
                pending.append(item)
                continue
            await pool.execute(
                "UPDATE personal_data.erasures SET recorded_position = $3"
                " WHERE subject_id = $1 AND proposal_id = $2",
                row["subject_id"],
                row["proposal_id"],
                position,
            )
            recorded.append({**item, "position": position})
    finally:
        await store.stop()
    return recorded, pending


async def _record_erasure(service: ReviewService, subject: UUID, proposal_id: UUID) -> int | None:
    metadata = {
        "actor": ERASURE_ACTOR,
        "correlation_id": str(uuid.uuid4()),
        "causation_id": None,
        "source": "kipp-cli",
    }
    while True:  # a decision appended meanwhile moves the version: decide again on the new one
        try:
            result = await service.decide(
                proposal_id, lambda at: RecordErasure(at=at, subject=subject), metadata
            )
        except ProposalNotFound:
            return None
        except ConcurrencyError:
            continue
        return result.last_position


class RotationRefused(Exception):
    """The master key cannot be rotated now; the text says why and what to do."""


async def rotate_master_key(pool: asyncpg.Pool, key_file: str) -> dict[str, Any]:
    """Re-wraps every data key (and recomputes every e-mail digest) under a new master key, then puts the
    new key in `key_file` and moves the old one aside. Refused while a service is connected: a running
    service holds the old key and would wrap new data keys with it.

    Crash-safe: the new key is written to `<key_file>.next` before the database changes, and a rerun finds
    it there; the database and the file names change in that order."""
    async with pool.acquire() as conn:
        connected = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND application_name = ANY($1)",
            list(SERVICES),
        )
        if connected:
            raise RotationRefused(
                f"{connected} connections of intake or review are open: stop both services, rotate, then"
                " start them"
            )
        current = load_master_key(key_file)
        next_file = Path(f"{key_file}.next")
        write_new_master_key(next_file, MasterKey.generate())  # kept if an interrupted run wrote it
        new = load_master_key(next_file)
        async with conn.transaction():
            claimed = await conn.fetchval("SELECT check_value FROM personal_data.master_key FOR UPDATE")
            rewrapped = 0
            if claimed != new.check_value:
                if claimed not in (None, current.check_value):
                    raise MasterKeyInvalid(
                        f"the master key in {key_file} ({current.check_value}) is not the one that wraps"
                        f" this database's data keys ({claimed})"
                    )
                rewrapped = await _rewrap(conn, current, new)
                await conn.execute(
                    "INSERT INTO personal_data.master_key (check_value) VALUES ($1)"
                    " ON CONFLICT (only_row) DO UPDATE SET check_value = EXCLUDED.check_value",
                    new.check_value,
                )
    retired = f"{key_file}.retired-{current.check_value}"
    os.replace(key_file, retired)
    os.replace(next_file, key_file)
    return {
        "rewrapped": rewrapped,
        "master_key": new.check_value,
        "retired": current.check_value,
        "retired_key_file": retired,
    }


async def _rewrap(conn: Connection, old: MasterKey, new: MasterKey) -> int:
    rows = await conn.fetch("SELECT subject_id, email, wrapped_key FROM personal_data.subjects FOR UPDATE")
    updates = []
    for row in rows:
        key = DataKey(row["subject_id"], old.unwrap(row["subject_id"], bytes(row["wrapped_key"])))
        address = decrypt_email(key, bytes(row["email"]))
        updates.append(
            (
                key.subject_id,
                new.email_digest(address),
                encrypt_email(key, address),
                new.wrap(key.subject_id, key.secret),
            )
        )
    await conn.executemany(
        "UPDATE personal_data.subjects SET email_digest = $2, email = $3, wrapped_key = $4"
        " WHERE subject_id = $1",
        updates,
    )
    return len(updates)
