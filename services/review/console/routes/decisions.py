"""Reviewers' decisions from the console's forms, recorded through the same application service as the
API's (`ReviewService.decide`), at the version the form was made on. A colleague's decision recorded
since then is shown as a conflict, with what changed; nothing is overwritten."""

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError

from services.review.api.proposals import (
    NationalRegistrationIn,
    RevisionRequestIn,
    SelectionIn,
    ValidationIn,
    VerificationIn,
    decision_metadata,
)
from services.review.application import StaleVersion
from services.review.console import reading
from services.review.console.deps import Context, Form, PostedForm, ReviewerSession
from services.review.console.errors import PageRefused
from services.review.console.pages import render
from services.review.console.routes.proposal import load, proposal_id_of, proposal_page
from services.review.domain.commands import Command
from services.review.domain.decider import NOT_SUBMITTED, ProposalNotFound
from services.review.eventstore.base import ConcurrencyError
from services.review.views import event_view, proposal_view
from shared.lifecycle import TransitionRefused

router = APIRouter(prefix="/console", include_in_schema=False)


def _verification(form: Form) -> dict[str, Any]:
    checked = set(form.all("checklist"))
    items = {kind: kind in checked for kind in form.all("checklist_item")}
    return {"outcome": form.get("outcome"), "checklist": items, "notes": form.get("notes")}


def _revision_request(form: Form) -> dict[str, Any]:
    reasons = [line.strip() for line in form.get("reasons").splitlines() if line.strip()]
    return {"reasons": reasons, "notes": form.get("notes")}


# Each form: the API's body model (the same rules as the API's), what the form's fields make of it, and
# what the decision is called on the page.
FORMS: dict[str, tuple[type[BaseModel], Callable[[Form], dict[str, Any]], str]] = {
    "verification": (VerificationIn, _verification, "verifikasi"),
    "validation": (
        ValidationIn,
        lambda f: {"outcome": f.get("outcome"), "notes": f.get("notes")},
        "validasi",
    ),
    "revision-request": (RevisionRequestIn, _revision_request, "permintaan revisi"),
    "national-registration": (
        NationalRegistrationIn,
        lambda f: {"sinovik_reference": f.get("sinovik_reference").strip()},
        "pendaftaran SINOVIK",
    ),
    "selection": (
        SelectionIn,
        lambda f: {"stage": f.get("stage"), "outcome": f.get("outcome"), "notes": f.get("notes")},
        "hasil seleksi",
    ),
}

FIELD_NAMES = {
    "reasons": "Alasan revisi: tulis sedikitnya satu alasan, satu per baris",
    "sinovik_reference": "Nomor referensi SINOVIK wajib diisi",
    "outcome": "Pilih hasilnya",
    "notes": "Catatan terlalu panjang",
}


def _errors(error: ValidationError) -> list[str]:
    found = []
    for problem in error.errors():
        field = str(problem["loc"][0]) if problem["loc"] else ""
        found.append(FIELD_NAMES.get(field, f"{field}: {problem['msg']}"))
    return list(dict.fromkeys(found))


def _version(form: Form) -> int:
    text = form.get("version")
    if not (text.isascii() and text.isdigit() and len(text) <= 9):
        raise PageRefused(400, "Formulir tidak lengkap", "Formulir ini tidak menyebut versi proposal.")
    return int(text)


@router.post("/proposals/{proposal_id}/decisions/{kind}")
async def decide(
    request: Request,
    context: Context,
    session: ReviewerSession,
    form: PostedForm,
    proposal_id: str,
    kind: str,
) -> Response:
    found = proposal_id_of(proposal_id)
    if kind not in FORMS:
        raise PageRefused(404, "Tidak ditemukan", "Keputusan semacam itu tidak ada.")
    model, fields, name = FORMS[kind]
    seen = _version(form)
    try:
        body = model.model_validate(fields(form))
    except ValidationError as invalid:
        return await proposal_page(request, context, found, 422, errors=_errors(invalid))
    command: Callable[[datetime], Command] = body.command  # type: ignore[attr-defined]
    metadata = decision_metadata(session.caller, "review-console")
    try:
        result = await context.service.decide(found, command, metadata, if_match=seen)
    except ProposalNotFound:
        raise PageRefused(404, "Tidak ditemukan", f"Proposal {found} tidak ada.") from None
    except (StaleVersion, ConcurrencyError):
        return await conflict(request, context, found, seen, name)
    except TransitionRefused as refused:
        return await proposal_page(request, context, found, 409, errors=[_refusal(refused)])
    # As the API does: the queue and the board read the status list, so answer once it has the decision.
    await context.projector.wait_for(result.last_position, context.settings.decision_wait_seconds)
    return RedirectResponse(f"/console/proposals/{found}?saved={kind}", status_code=303)


def _refusal(refused: TransitionRefused) -> str:
    from services.review.console.labels import STATUSES

    allowed = ", ".join(STATUSES.get(s, s) for s in refused.allowed) or "tidak ada (status akhir)"
    return (
        f"Langkah ini tidak diizinkan: status proposal sekarang {STATUSES[refused.current.value]};"
        f" langkah yang diizinkan: {allowed}."
    )


async def conflict(
    request: Request, context: Context, proposal_id: UUID, seen: int, name: str
) -> HTMLResponse:
    """409: what colleagues recorded since the version the reviewer decided on, and where it stands now."""
    folded = await load(context, proposal_id)
    assert folded.state is not NOT_SUBMITTED
    view = proposal_view(proposal_id, folded.state, folded.version)
    since = reading.timeline([event_view(event) for event in folded.history[seen:]])
    return render(
        request, "conflict.html", 409, page="queue", view=view, since=since, seen=seen, attempted=name
    )
