"""Submitting systems' routes: submit a proposal, read it back."""

import uuid
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.intake import repository
from services.intake.api.deps import Context
from shared.contract import PROPOSAL_SUBMITTED, new_envelope
from shared.http import Problem
from shared.proposal import ProposalBody
from shared.rules import check_proposal

router = APIRouter(prefix="/v1/proposals", tags=["proposals"])


def _correlation_id(request: Request) -> str:
    return request.headers.get("x-correlation-id") or str(uuid.uuid4())


@router.post("", status_code=202)
async def submit(ctx: Context, request: Request, body: ProposalBody) -> JSONResponse:
    if broken := check_proposal(body, ctx.rounds):
        errors = [{"field": v.field, "rule": v.rule, "message": v.message} for v in broken]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        raise Problem(422, "Proposal breaks the round's rules", detail, errors=errors)
    # The data published is the proposal exactly as posted (already parsed and cached by FastAPI).
    posted: dict[str, Any] = await request.json()
    envelope = new_envelope(
        PROPOSAL_SUBMITTED,
        uuid.uuid4(),
        datetime.now(UTC),
        posted,
        actor={"name": "submitter"},
        source="intake-api",
        correlation_id=_correlation_id(request),
    )
    await repository.record_submission(ctx.pool, envelope, posted)
    ctx.relay.poke()
    location = f"/v1/proposals/{envelope.proposal_id}"
    answer = {
        "proposal_id": str(envelope.proposal_id),
        "status": "submitted",
        "submitted_at": envelope.occurred_at.isoformat(),
    }
    return JSONResponse(answer, status_code=202, headers={"Location": location})


@router.get("/{proposal_id}")
async def get_proposal(ctx: Context, proposal_id: UUID) -> dict[str, Any]:
    view = await repository.get_proposal(ctx.pool, proposal_id)
    if view is None:
        raise Problem(404, "Proposal not found", f"no proposal {proposal_id}")
    return view
