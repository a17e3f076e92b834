"""One proposal: its text against the round's limits, its documents, resemblances, its history as a
timeline, and the decision forms, each carrying the version it was made on."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse

from services.review.api.deps import ReviewContext
from services.review.api.log import certificate_of
from services.review.application import Folded
from services.review.console import reading
from services.review.console.deps import Context, SignedIn
from services.review.console.errors import PageRefused, not_found
from services.review.console.pages import render
from services.review.console.resemblances import resemblances_for
from services.review.domain.decider import NOT_SUBMITTED
from services.review.personal_data import shown_folded
from services.review.views import event_view, proposal_view
from shared.http import Problem

router = APIRouter(prefix="/console", include_in_schema=False)


def proposal_id_of(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise not_found(f"Proposal {text!r}") from None


async def load(context: ReviewContext, proposal_id: UUID) -> Folded:
    """The proposal folded from its own events: always current, even before the status list has caught
    up with a decision just made."""
    folded = await context.service.load(proposal_id)
    if folded.state is NOT_SUBMITTED:
        raise not_found(f"Proposal {proposal_id}")
    return folded


async def proposal_page(
    request: Request,
    context: ReviewContext,
    proposal_id: UUID,
    status: int = 200,
    errors: list[str] | None = None,
    saved: str | None = None,
    every_resemblance: bool = False,
) -> HTMLResponse:
    folded = await load(context, proposal_id)
    assert folded.state is not NOT_SUBMITTED
    # The innovator's fields as the API shows them to readers: decrypted, or marked erased.
    view = await shown_folded(
        context.pool,
        context.master_key,
        proposal_view(proposal_id, folded.state, folded.version),
        folded.history,
    )
    history = [event_view(event) for event in folded.history]
    rules = context.service.rounds.get(view["round"])
    return render(
        request,
        "proposal.html",
        status,
        page="queue",
        view=view,
        proposal=view["proposal"],
        sections=reading.sections(view["proposal"], rules),
        documents=reading.documents(view["proposal"], rules),
        timeline=reading.timeline(history),
        decisions=reading.decisions(view["status"]),
        rules=rules,
        resemblances=await resemblances_for(context, proposal_id, every_resemblance),
        errors=errors or [],
        saved=saved,
    )


@router.get("/proposals/{proposal_id}")
async def proposal(
    request: Request,
    context: Context,
    session: SignedIn,
    proposal_id: str,
    saved: Annotated[str | None, Query(max_length=40)] = None,
    kemiripan: Annotated[str | None, Query(max_length=10)] = None,
) -> HTMLResponse:
    """`?kemiripan=semua` shows every resemblance, not only the highest-scoring few."""
    return await proposal_page(
        request, context, proposal_id_of(proposal_id), saved=saved, every_resemblance=kemiripan == "semua"
    )


@router.get("/proposals/{proposal_id}/certificate.json")
async def certificate(request: Request, session: SignedIn, proposal_id: str) -> JSONResponse:
    """The proposal's priority certificate, as the API gives it: a file to keep and check offline."""
    found = proposal_id_of(proposal_id)
    try:
        issued = await certificate_of(request, found, None, session.caller)
    except Problem as problem:
        if problem.status == 404:
            raise not_found(f"Proposal {found}") from None
        raise PageRefused(problem.status, "Sertifikat belum dapat dibuat", problem.detail) from None
    name = f"sertifikat-prioritas-{found}.json"
    return JSONResponse(issued, headers={"Content-Disposition": f'attachment; filename="{name}"'})
