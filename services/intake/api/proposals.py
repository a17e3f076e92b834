"""Submitting systems' routes: submit, read, list, revise and withdraw their own proposals.

Each route that changes a proposal translates the request into a command of intake's service and its
refusals into problem responses; what is allowed is decided in services/intake/application.py."""

import hashlib
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

import rfc8785
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.intake import repository
from services.intake.api.deps import Pool, Service
from services.intake.api.models import Accepted as AcceptedAnswer
from services.intake.api.models import IntakeProposal, IntakeProposalPage
from services.intake.application import (
    Accepted,
    Idempotency,
    IdempotencyKeyReused,
    MoveRefused,
    ProposalNotFound,
    ReviseProposal,
    RulesBroken,
    SubjectErased,
    SubmitProposal,
    WithdrawProposal,
)
from shared.access.http import Submitter
from shared.http import Problem, invalid_cursor, move_not_allowed
from shared.lifecycle import Status
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


def request_hash(request: Request, posted: Any, raw: bytes) -> bytes:
    """What makes two requests the same: method, path and the body's RFC 8785 form (so whitespace and key
    order do not count). A body that has no canonical form (an integer beyond what JSON numbers hold
    exactly) is taken as its bytes: it is refused by the rules anyway, and must not be a 500 first."""
    try:
        body = rfc8785.dumps(posted)
    except rfc8785.CanonicalizationError:
        body = b"raw:" + raw
    return hashlib.sha256(f"{request.method} {request.url.path}\n".encode() + body).digest()


async def idempotency(request: Request, key: str | None) -> Idempotency | None:
    """The Idempotency-Key sent, with the request it came with: its method, path and body as posted."""
    if key is None:
        return None
    raw = await request.body()
    return Idempotency(key, request_hash(request, await request.json() if raw else None, raw))


def current_correlation_id() -> str:
    # Set for this request by RequestObservation: the X-Correlation-ID sent, or a new one.
    return correlation_id.get() or str(uuid.uuid4())


async def answered(accepting: Awaitable[Accepted]) -> JSONResponse:
    """What the service accepted, answered 202 with where to read the proposal; its refusals, answered as
    problems."""
    try:
        accepted = await accepting
    except ProposalNotFound as missing:
        raise not_found(missing.proposal_id) from None
    except MoveRefused as refused:
        raise move_not_allowed(refused) from None
    except RulesBroken as broken:
        errors = [{"field": v.field, "rule": v.rule, "message": v.message} for v in broken.violations]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        raise Problem(422, "Proposal breaks the round's rules", detail, errors=errors) from None
    except SubjectErased:
        detail = "the innovator's personal data was being erased meanwhile; nothing was done, retry shortly"
        raise Problem(503, "Service unavailable", detail, {"Retry-After": "1"}) from None
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
    return JSONResponse(
        accepted.body, status_code=202, headers={"Location": f"/v1/proposals/{accepted.proposal_id}"}
    )


@router.post(
    "",
    **answers(
        AcceptedAnswer,
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
    service: Service,
    caller: Submitter,
    request: Request,
    body: ProposalBody,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    # The data published is the proposal exactly as posted (parsed once already, cached by the request).
    posted: dict[str, Any] = await request.json()
    command = SubmitProposal(caller, body, posted, datetime.now(UTC), current_correlation_id())
    return await answered(service.submit(command, await idempotency(request, idempotency_key)))


@router.get("", **answers(IntakeProposalPage, KEYED, INVALID_REQUEST, INVALID_CURSOR))
async def list_proposals(
    pool: Pool,
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
        pool, caller.holder_id, status.value if status else None, limit, before
    )
    return {"items": items, "next_cursor": next_cursor}


@router.get("/{proposal_id}", **answers(IntakeProposal, KEYED, INVALID_REQUEST, PROPOSAL_NOT_FOUND))
async def get_proposal(pool: Pool, caller: Submitter, proposal_id: UUID) -> dict[str, Any]:
    view = await repository.get_own_proposal(pool, proposal_id, caller.holder_id)
    if view is None:
        raise not_found(proposal_id)
    return view


@router.put(
    "/{proposal_id}",
    **answers(
        AcceptedAnswer,
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
    service: Service,
    caller: Submitter,
    request: Request,
    proposal_id: UUID,
    body: ProposalBody,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    posted: dict[str, Any] = await request.json()
    command = ReviseProposal(caller, proposal_id, body, posted, datetime.now(UTC), current_correlation_id())
    return await answered(service.revise(command, await idempotency(request, idempotency_key)))


@router.post(
    "/{proposal_id}/withdrawal",
    **answers(
        AcceptedAnswer,
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
    service: Service,
    caller: Submitter,
    request: Request,
    proposal_id: UUID,
    body: WithdrawalIn,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    command = WithdrawProposal(caller, proposal_id, body.reason, datetime.now(UTC), current_correlation_id())
    return await answered(service.withdraw(command, await idempotency(request, idempotency_key)))
