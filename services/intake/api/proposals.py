"""Submitting systems' routes: submit, read, list, revise and withdraw their own proposals."""

import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

import asyncpg
import rfc8785
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.intake import repository
from services.intake.api.deps import Context
from services.intake.api.models import Accepted, IntakeProposal, IntakeProposalPage
from services.intake.metrics import ACCEPTED
from services.intake.repository import IdempotencyKeyReused, StoredAnswer
from shared.access import Caller
from shared.access.http import Submitter
from shared.contract import PROPOSAL_REVISED, PROPOSAL_SUBMITTED, PROPOSAL_WITHDRAWN, Envelope, new_envelope
from shared.db import Connection
from shared.http import Problem, invalid_cursor
from shared.lifecycle import ALLOWED_MOVES, Status
from shared.observability import correlation_id
from shared.openapi import answers
from shared.problems import (
    IDEMPOTENCY_KEY_REUSED,
    INVALID_CURSOR,
    INVALID_REQUEST,
    KEYED,
    MOVE_NOT_ALLOWED,
    PROPOSAL_NOT_FOUND,
    ROUND_RULES,
    WITH_BODY,
)
from shared.proposal import ProposalBody, Text
from shared.rounds import RoundBook
from shared.rules import Violation, check_proposal, check_revision
from shared.times import day_in_wib

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/proposals", tags=["proposals"])
LOCATION = {"Location": "The proposal: /v1/proposals/{proposal_id}"}

IdempotencyKey = Annotated[
    str | None,
    Header(
        max_length=200, description="Repeat a request safely: the same key and body answer the same result"
    ),
]


class WithdrawalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Text = Field(min_length=1, max_length=5_000)


def not_found(proposal_id: UUID) -> Problem:
    return Problem(404, "Proposal not found", f"no proposal {proposal_id} of yours")


def rules_problem(broken: list[Violation]) -> Problem:
    errors = [{"field": v.field, "rule": v.rule, "message": v.message} for v in broken]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return Problem(422, "Proposal breaks the round's rules", detail, errors=errors)


def check_rules(body: ProposalBody, rounds: RoundBook) -> None:
    """The round's rules on the day it is now in WIB (a round closes at the end of its last day there)."""
    if broken := check_proposal(body, rounds, day_in_wib(datetime.now(UTC))):
        raise rules_problem(broken)


def refuse_move(current: str, attempted: Status) -> Problem:
    allowed = [s.value for s in ALLOWED_MOVES[Status(current)]]
    moves = ", ".join(allowed) or "none (final status)"
    return Problem(
        409,
        "Move not allowed",
        f"cannot move to '{attempted.value}': proposal is '{current}'; allowed moves: {moves}",
        current_status=current,
        allowed_moves=allowed,
    )


def request_hash(request: Request, posted: Any) -> bytes:
    return hashlib.sha256(f"{request.method} {request.url.path}\n".encode() + rfc8785.dumps(posted)).digest()


def metadata(caller: Caller, request: Request) -> dict[str, Any]:
    return {
        "actor": caller.as_actor(),
        "source": "intake-api",
        # Set for this request by RequestObservation: the X-Correlation-ID sent, or a new one.
        "correlation_id": correlation_id.get() or str(uuid.uuid4()),
    }


async def _lock_own(conn: Connection, proposal_id: UUID, caller: Caller, attempted: Status) -> asyncpg.Record:
    """The caller's proposal, locked for this transaction; 404 if it is not theirs, 409 once withdrawn
    (nothing follows a withdrawal, whatever intake has heard from review since)."""
    current = await repository.lock_own_proposal(conn, proposal_id, caller.holder_id)
    if current is None:
        raise not_found(proposal_id)
    if current["withdrawn"]:
        raise refuse_move(Status.WITHDRAWN.value, attempted)
    return current


def _next_event(
    current: asyncpg.Record, event_type: str, data: dict[str, Any], caller: Caller, request: Request
) -> Envelope:
    """The proposal's next intake event, numbered after the ones intake already published for it."""
    return new_envelope(
        event_type,
        current["proposal_id"],
        datetime.now(UTC),
        data,
        sequence=current["intake_events"] + 1,
        **metadata(caller, request),
    )


def answer(stored: StoredAnswer) -> JSONResponse:
    headers = {"Location": stored.location} if stored.location else None
    return JSONResponse(stored.body, status_code=stored.status_code, headers=headers)


async def _once(
    ctx: Context,
    caller: Caller,
    request: Request,
    idempotency_key: str | None,
    work: Callable[[Connection], Awaitable[StoredAnswer]],
    event_type: str,
) -> JSONResponse:
    """Runs `work`, which is atomic (one statement, or its own transaction); with an Idempotency-Key, in
    one transaction with the key's record, at most once per key and request."""
    digest = None
    if idempotency_key is not None:
        digest = request_hash(request, await request.json() if await request.body() else None)
    try:
        async with ctx.pool.acquire() as conn:
            if idempotency_key is None or digest is None:
                result = await work(conn)  # atomic by itself: no transaction round trips to pay around it
            else:
                async with conn.transaction():
                    stored = await repository.claim_idempotency_key(
                        conn, caller.holder_id, idempotency_key, digest
                    )
                    if stored is not None:
                        return answer(stored)
                    result = await work(conn)
                    await repository.save_answer(conn, caller.holder_id, idempotency_key, result)
    except IdempotencyKeyReused:
        raise Problem(
            422,
            "Idempotency-Key reused",
            "this Idempotency-Key was used before with a different request",
            errors=[
                {
                    "field": "Idempotency-Key",
                    "rule": "same_request",
                    "message": "key used for another request",
                }
            ],
        ) from None
    ctx.relay.worker.poke()
    ACCEPTED.labels(event_type).inc()
    log.info(
        "accepted %s",
        event_type,
        extra={"proposal_id": result.body["proposal_id"], "holder": str(caller.holder_id)},
    )
    return answer(result)


@router.post(
    "",
    **answers(
        Accepted,
        KEYED,
        WITH_BODY,
        ROUND_RULES,
        IDEMPOTENCY_KEY_REUSED,
        status=202,
        description="Submitted",
        headers=LOCATION,
    ),
)
async def submit(
    ctx: Context,
    caller: Submitter,
    request: Request,
    body: ProposalBody,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    check_rules(body, ctx.rounds)
    # The data published is the proposal exactly as posted (parsed once already, cached by the request).
    posted: dict[str, Any] = await request.json()

    async def work(conn: Connection) -> StoredAnswer:
        envelope = new_envelope(
            PROPOSAL_SUBMITTED,
            uuid.uuid4(),
            datetime.now(UTC),
            posted,
            sequence=1,
            **metadata(caller, request),
        )
        await repository.record_submission(conn, envelope, caller.holder_id)
        body = {
            "proposal_id": str(envelope.proposal_id),
            "status": Status.SUBMITTED.value,
            "submitted_at": envelope.occurred_at.isoformat(),
        }
        return StoredAnswer(202, body, f"/v1/proposals/{envelope.proposal_id}")

    return await _once(ctx, caller, request, idempotency_key, work, PROPOSAL_SUBMITTED)


@router.get("", **answers(IntakeProposalPage, KEYED, INVALID_REQUEST, INVALID_CURSOR))
async def list_proposals(
    ctx: Context,
    caller: Submitter,
    status: Status | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> dict[str, Any]:
    try:
        before = repository.decode_cursor(cursor) if cursor else None
    except ValueError:
        raise invalid_cursor() from None
    items, next_cursor = await repository.list_own_proposals(
        ctx.pool, caller.holder_id, status.value if status else None, limit, before
    )
    return {"items": items, "next_cursor": next_cursor}


@router.get("/{proposal_id}", **answers(IntakeProposal, KEYED, INVALID_REQUEST, PROPOSAL_NOT_FOUND))
async def get_proposal(ctx: Context, caller: Submitter, proposal_id: UUID) -> dict[str, Any]:
    view = await repository.get_own_proposal(ctx.pool, proposal_id, caller.holder_id)
    if view is None:
        raise not_found(proposal_id)
    return view


@router.put(
    "/{proposal_id}",
    **answers(
        Accepted,
        KEYED,
        WITH_BODY,
        PROPOSAL_NOT_FOUND,
        MOVE_NOT_ALLOWED,
        ROUND_RULES,
        IDEMPOTENCY_KEY_REUSED,
        status=202,
        description="Revised: back in review's queue",
        headers=LOCATION,
    ),
)
async def revise(
    ctx: Context,
    caller: Submitter,
    request: Request,
    proposal_id: UUID,
    body: ProposalBody,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    check_rules(body, ctx.rounds)
    posted: dict[str, Any] = await request.json()

    async def work(conn: Connection) -> StoredAnswer:
        async with conn.transaction():
            current = await _lock_own(conn, proposal_id, caller, Status.SUBMITTED)
            if current["status"] != Status.REVISION_REQUESTED:
                raise refuse_move(current["status"], Status.SUBMITTED)
            if broken := check_revision(current["round"], body):
                raise rules_problem(broken)
            envelope = _next_event(current, PROPOSAL_REVISED, posted, caller, request)
            await repository.record_revision(conn, envelope, posted)
            await repository.add_to_outbox(conn, envelope)
        answer = {
            "proposal_id": str(proposal_id),
            "status": "submitted",
            "revised_at": envelope.occurred_at.isoformat(),
        }
        return StoredAnswer(202, answer, f"/v1/proposals/{proposal_id}")

    return await _once(ctx, caller, request, idempotency_key, work, PROPOSAL_REVISED)


@router.post(
    "/{proposal_id}/withdrawal",
    **answers(
        Accepted,
        KEYED,
        WITH_BODY,
        PROPOSAL_NOT_FOUND,
        MOVE_NOT_ALLOWED,
        IDEMPOTENCY_KEY_REUSED,
        status=202,
        description="Withdrawn",
        headers=LOCATION,
    ),
)
async def withdraw(
    ctx: Context,
    caller: Submitter,
    request: Request,
    proposal_id: UUID,
    body: WithdrawalIn,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    async def work(conn: Connection) -> StoredAnswer:
        async with conn.transaction():
            current = await _lock_own(conn, proposal_id, caller, Status.WITHDRAWN)
            if Status.WITHDRAWN not in ALLOWED_MOVES[Status(current["status"])]:
                raise refuse_move(current["status"], Status.WITHDRAWN)
            envelope = _next_event(current, PROPOSAL_WITHDRAWN, {"reason": body.reason}, caller, request)
            await repository.record_withdrawal(conn, envelope)
            await repository.add_to_outbox(conn, envelope)
        answer = {
            "proposal_id": str(proposal_id),
            "status": "withdrawn",
            "withdrawn_at": envelope.occurred_at.isoformat(),
        }
        return StoredAnswer(202, answer, f"/v1/proposals/{proposal_id}")

    return await _once(ctx, caller, request, idempotency_key, work, PROPOSAL_WITHDRAWN)
