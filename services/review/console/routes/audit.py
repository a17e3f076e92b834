"""Auditors' pages: the chain verified (as `kipp audit verify` does: the hash chain, then the history
against every checkpoint kept outside the database), the latest signed checkpoint, and the NDJSON export."""

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, StreamingResponse

from services.review.api.events import NDJSON
from services.review.api.log import LogContext
from services.review.audit import verify_chain
from services.review.console.deps import AuditorSession, Context
from services.review.console.errors import PageRefused
from services.review.console.pages import render
from services.review.eventstore.base import EventStore
from services.review.log_audit import LogReport, published_key, verify_history
from services.review.metrics import CHAIN_VERIFICATIONS
from services.review.tlog import latest_checkpoint
from services.review.views import ndjson_lines
from shared.tlog.note import NoteError

router = APIRouter(prefix="/console/audit", include_in_schema=False)


def _log(request: Request) -> LogContext:
    log: LogContext = request.app.state.log
    return log


async def _latest_note(request: Request, context: Context) -> tuple[str, int, datetime | None] | None:
    """The latest signed checkpoint with the witnesses' cosignature lines, its size and when it was signed."""
    latest = await latest_checkpoint(context.pool)
    if latest is None:
        return None
    lines = await context.pool.fetch(
        "SELECT line FROM review.cosignatures WHERE size = $1 ORDER BY witness", latest.checkpoint.size
    )
    signed_at = await context.pool.fetchval(
        "SELECT signed_at FROM review.log_checkpoints WHERE size = $1", latest.checkpoint.size
    )
    return latest.note + "".join(row["line"] for row in lines), latest.checkpoint.size, signed_at


@router.get("")
async def overview(request: Request, context: Context, session: AuditorSession) -> HTMLResponse:
    head = await context.pool.fetchval("SELECT coalesce(max(position), 0) FROM review.events")
    return render(
        request,
        "audit.html",
        page="audit",
        head=head,
        checkpoint=await _latest_note(request, context),
        log_key=str(_log(request).signer.verifier),
        report=None,
        log_report=None,
    )


async def _against_kept_checkpoints(store: EventStore, checkpoint_dir: str, vkey_file: str) -> LogReport:
    """As `kipp audit verify` checks: with the published key, as an auditor has it (not the key this
    process signs with), and the leaf hashes kept beside the checkpoints."""
    try:
        key = published_key(vkey_file)
    except NoteError as error:
        return LogReport(False, 0, 0, f"{vkey_file}: {error}")
    if key is None:
        return LogReport(False, 0, 0, f"no published log key in {vkey_file}")
    try:
        return await verify_history(store.read_all(), checkpoint_dir, key)
    except NoteError as error:
        return LogReport(False, 0, 0, f"a kept checkpoint does not verify: {error}")


@router.get("/verification")
async def verification(request: Request, context: Context, session: AuditorSession) -> HTMLResponse:
    store = context.service.store
    report = await verify_chain(store.read_all())
    CHAIN_VERIFICATIONS.labels("intact" if report.intact else "broken").inc()
    log = _log(request)
    log_report = await _against_kept_checkpoints(store, log.checkpoint_dir, context.settings.log_vkey_file)
    head = await context.pool.fetchval("SELECT coalesce(max(position), 0) FROM review.events")
    return render(
        request,
        "audit.html",
        page="audit",
        head=head,
        checkpoint=await _latest_note(request, context),
        log_key=str(log.signer.verifier),
        report=report,
        log_report=log_report,
    )


@router.get("/checkpoint.txt")
async def checkpoint(request: Request, context: Context, session: AuditorSession) -> PlainTextResponse:
    found = await _latest_note(request, context)
    if found is None:
        raise PageRefused(404, "Belum ada checkpoint", "Log belum menandatangani checkpoint apa pun.")
    return PlainTextResponse(
        found[0], headers={"Content-Disposition": 'attachment; filename="checkpoint.txt"'}
    )


@router.get("/export.ndjson")
async def export(context: Context, session: AuditorSession) -> StreamingResponse:
    """Every event, one JSON object a line, as `kipp events export` writes them (streamed)."""
    name = f"kipp-ledger-{context.service.clock():%Y%m%d-%H%M%S}.ndjson"
    return StreamingResponse(
        ndjson_lines(context.service.store, 0),
        media_type=NDJSON,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
