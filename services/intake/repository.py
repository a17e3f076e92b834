"""Intake's tables in PostgreSQL: the service's repository (a change and the event announcing it are
written in one transaction), and the submitters' reads of their own proposals."""

import base64
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

import asyncpg

from services.intake.application import (
    Accepted,
    ApplyStatusChange,
    KeyUse,
    OwnProposal,
    Posted,
    SubjectErased,
)
from services.intake.status_updates import StatusUpdates
from shared.contract import Envelope
from shared.db import Connection
from shared.lifecycle import Status
from shared.personal_data.fields import ERASED_INNOVATOR, DataKey
from shared.personal_data.master_key import MasterKey
from shared.personal_data.vault import data_key_for

# What a request answered with an Idempotency-Key was answered over HTTP: kept in the key's row beside the
# body, as the rows have always held them.
ACCEPTED_STATUS = 202


def _location(answer: Accepted) -> str:
    return f"/v1/proposals/{answer.proposal_id}"


async def add_to_outbox(conn: Connection, envelope: Envelope) -> None:
    await conn.execute(
        "INSERT INTO intake.outbox (event_id, proposal_id, routing_key, envelope)"
        " VALUES ($1, $2, $3, $4::text::jsonb)",
        envelope.event_id,
        envelope.proposal_id,
        envelope.event_type,
        envelope.model_dump_json(),
    )


@asynccontextmanager
async def _subject_kept() -> AsyncIterator[None]:
    """SubjectErased for a holding whose subject an erasure deleted after its key was found."""
    try:
        yield
    except asyncpg.ForeignKeyViolationError as error:
        if error.constraint_name != "holdings_subject_id_fkey":
            raise
        raise SubjectErased() from error


class PostgresIntakeSession:
    """`IntakeSession` on one connection of the pool."""

    def __init__(self, conn: Connection, master: MasterKey) -> None:
        self._conn = conn
        self._master = master

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        async with self._conn.transaction():
            yield

    async def claim_idempotency_key(self, owner: UUID, key: str, request_hash: bytes) -> KeyUse | None:
        """A second request racing with the first blocks on the primary key until the first commits, then
        sees its answer: of two racing requests with one key, exactly one does the work."""
        claimed = await self._conn.fetchval(
            "INSERT INTO intake.idempotency_keys (owner_id, key, request_hash) VALUES ($1, $2, $3)"
            " ON CONFLICT DO NOTHING RETURNING true",
            owner,
            key,
            request_hash,
        )
        if claimed:
            return None
        row = await self._conn.fetchrow(
            "SELECT request_hash, response FROM intake.idempotency_keys WHERE owner_id = $1 AND key = $2",
            owner,
            key,
        )
        assert row is not None
        return KeyUse(bytes(row["request_hash"]), Accepted(row["response"]))

    async def save_answer(self, owner: UUID, key: str, answer: Accepted) -> None:
        await self._conn.execute(
            "UPDATE intake.idempotency_keys SET status_code = $3, response = $4, location = $5"
            " WHERE owner_id = $1 AND key = $2",
            owner,
            key,
            ACCEPTED_STATUS,
            answer.body,
            _location(answer),
        )

    async def data_key(self, email: str) -> DataKey:
        return await data_key_for(self._conn, self._master, email)

    async def record_submission(self, envelope: Envelope, owner: UUID, posted: Posted) -> None:
        """The new proposal (as posted), its event in the outbox (the innovator's fields encrypted) and
        the person's holding, in one statement (atomic without a transaction's extra round trips)."""
        async with _subject_kept():
            await self._record_submission(envelope, owner, posted)

    async def _record_submission(self, envelope: Envelope, owner: UUID, posted: Posted) -> None:
        await self._conn.execute(
            "WITH proposal AS ("
            " INSERT INTO intake.proposals (proposal_id, owner_id, body, status, submitted_at, updated_at)"
            " VALUES ($2, $3, $7, 'submitted', $4, $4)), holding AS ("
            " INSERT INTO personal_data.holdings (subject_id, proposal_id) VALUES ($8, $2)"
            " ON CONFLICT DO NOTHING)"
            " INSERT INTO intake.outbox (event_id, proposal_id, routing_key, envelope)"
            " VALUES ($5, $2, $6, $1::text::jsonb)",
            envelope.model_dump_json(),
            envelope.proposal_id,
            owner,
            envelope.occurred_at,
            envelope.event_id,
            envelope.event_type,
            posted.proposal,
            posted.subject_id,
        )

    async def lock_own_proposal(self, proposal_id: UUID, owner: UUID) -> OwnProposal | None:
        """The owner's proposal, locked until the transaction ends (so two revisions cannot both pass)."""
        row = await self._conn.fetchrow(
            "SELECT proposal_id, status, (body->>'round')::int AS round, intake_events, withdrawn"
            " FROM intake.proposals WHERE proposal_id = $1 AND owner_id = $2 FOR UPDATE",
            proposal_id,
            owner,
        )
        if row is None:
            return None
        return OwnProposal(
            row["proposal_id"], Status(row["status"]), row["round"], row["intake_events"], row["withdrawn"]
        )

    async def record_revision(self, envelope: Envelope, posted: Posted) -> None:
        # The proposal is back in review's queue as soon as the revision is accepted: nothing else can move
        # it out of revision_requested but intake itself, so this local status cannot contradict review.
        await self._conn.execute(
            "UPDATE intake.proposals SET body = $2, status = 'submitted', status_detail = NULL,"
            " updated_at = $3, intake_events = $4 WHERE proposal_id = $1",
            envelope.proposal_id,
            posted.proposal,
            envelope.occurred_at,
            envelope.metadata.sequence,
        )
        async with _subject_kept():
            await self._conn.execute(
                "INSERT INTO personal_data.holdings (subject_id, proposal_id) VALUES ($1, $2)"
                " ON CONFLICT DO NOTHING",
                posted.subject_id,
                envelope.proposal_id,
            )
        await add_to_outbox(self._conn, envelope)

    async def record_withdrawal(self, envelope: Envelope) -> None:
        # Shown at once. If review had moved the proposal on meanwhile (to a status that cannot be
        # withdrawn), review refuses the withdrawal and its status_changed, of a later version, puts the
        # status right.
        await self._conn.execute(
            "UPDATE intake.proposals SET status = 'withdrawn', status_detail = $2, updated_at = $3,"
            " intake_events = $4, withdrawn = true WHERE proposal_id = $1",
            envelope.proposal_id,
            envelope.data,
            envelope.occurred_at,
            envelope.metadata.sequence,
        )
        await add_to_outbox(self._conn, envelope)


class PostgresIntakeRepository:
    """`IntakeRepository` on a pool: a session holds one of its connections."""

    def __init__(self, pool: asyncpg.Pool, master: MasterKey) -> None:
        self._pool = pool
        self._master = master
        self._status_updates = StatusUpdates(pool)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[PostgresIntakeSession]:
        async with self._pool.acquire() as conn:
            yield PostgresIntakeSession(conn, self._master)

    async def apply_status_change(self, change: ApplyStatusChange) -> bool:
        return await self._status_updates.apply(change)


def proposal_view(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "proposal_id": str(row["proposal_id"]),
        "status": row["status"],
        "status_detail": row["status_detail"],
        "review_version": row["review_version"],
        "submitted_at": row["submitted_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
        "proposal": row["body"],
    }


_VIEW_COLUMNS = "proposal_id, seq, status, status_detail, review_version, submitted_at, updated_at, body"


async def get_own_proposal(pool: asyncpg.Pool, proposal_id: UUID, owner: UUID) -> dict[str, Any] | None:
    row = await pool.fetchrow(
        f"SELECT {_VIEW_COLUMNS} FROM intake.proposals WHERE proposal_id = $1 AND owner_id = $2",
        proposal_id,
        owner,
    )
    return proposal_view(row) if row else None


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(str(seq).encode()).decode()


def decode_cursor(cursor: str) -> int:
    """Raises ValueError for anything this API did not hand out."""
    text = base64.urlsafe_b64decode(cursor.encode()).decode()
    if not (text.isascii() and text.isdigit()):  # int() would also take " 12", "+12", "1_2" or "١٢"
        raise ValueError("not a cursor")
    seq = int(text)
    if not 0 < seq < 2**63:
        raise ValueError("cursor out of range")
    return seq


async def list_own_proposals(
    pool: asyncpg.Pool, owner: UUID, status: str | None, limit: int, before: int | None
) -> tuple[list[dict[str, Any]], str | None]:
    """The owner's proposals, newest first."""
    rows = await pool.fetch(
        f"SELECT {_VIEW_COLUMNS} FROM intake.proposals WHERE owner_id = $1"
        " AND ($2::text IS NULL OR status = $2) AND ($3::bigint IS NULL OR seq < $3)"
        " ORDER BY seq DESC LIMIT $4",
        owner,
        status,
        before,
        limit + 1,
    )
    page = rows[:limit]
    cursor = encode_cursor(page[-1]["seq"]) if len(rows) > limit else None
    return [proposal_view(row) for row in page], cursor


async def erase_own_copies(
    conn: Connection, held: list[UUID], sql_address: str, names_them: Callable[[str], bool]
) -> list[UUID]:
    """Intake's plain copy of a person's fields, replaced by the erased marker in each proposal that holds
    them (`held`: the subject's holdings) or, written before holdings were kept, names their address
    (`sql_address` as lower(btrim(...)) of it). A proposal whose current text names someone else
    (`names_them` false: the address as the person is found, case folded) keeps that person: it was
    revised to name them. Returns the proposals changed."""
    rows = await conn.fetch(
        "SELECT proposal_id, body #>> '{innovator,email}' AS email FROM intake.proposals"
        " WHERE proposal_id = ANY($1::uuid[]) OR lower(btrim(body #>> '{innovator,email}')) = $2"
        " FOR UPDATE",
        held,
        sql_address,
    )
    theirs = [row["proposal_id"] for row in rows if row["email"] is not None and names_them(row["email"])]
    await conn.execute(
        "UPDATE intake.proposals SET body = jsonb_set(body, '{innovator}', $2) WHERE proposal_id = ANY($1)",
        theirs,
        ERASED_INNOVATOR,
    )
    return theirs
