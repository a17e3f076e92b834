"""The reviewer's queue (filters, counts by status, the round's deadline) and the status board with its
CSV and XLSX downloads."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from services.review.console import board, formatting
from services.review.console.deps import Context, SignedIn
from services.review.console.errors import PageRefused
from services.review.console.pages import render
from services.review.console.queries import board_rows, counts, queue_page
from services.review.queries import ListFilter, decode_cursor
from shared.lifecycle import Status
from shared.rounds import RoundBook

router = APIRouter(prefix="/console", include_in_schema=False)
PAGE_SIZE = 50

StatusFilter = Annotated[str | None, Query(max_length=40)]
AgencyFilter = Annotated[str | None, Query(max_length=300)]
RoundFilter = Annotated[str | None, Query(max_length=4)]


def _status(value: str | None) -> str | None:
    if not value:
        return None
    if value not in Status.__members__.values():
        raise PageRefused(400, "Saringan tidak dikenal", f"Tidak ada status bernama {value!r}.")
    return value


def _round(value: str | None) -> int | None:
    if not value:
        return None
    if not (value.isascii() and value.isdigit()):
        raise PageRefused(400, "Saringan tidak dikenal", "Tahun lomba ditulis dengan empat angka.")
    return int(value)


def deadline(rounds: RoundBook, round: int | None, context: Context) -> dict[str, Any] | None:
    """The round shown (the one filtered, else the newest known) with its closing day and days left."""
    year = round or max(rounds.rounds, default=None)
    rules = rounds.get(year) if year else None
    if rules is None:
        return None
    today = formatting.today_in_wib(context.service.clock())
    return {
        "round": rules.round,
        "closes_on": rules.closes_on,
        "left": formatting.days_left(rules.closes_on, today),
        "open": today <= rules.closes_on,
    }


@router.get("/queue")
async def queue(
    request: Request,
    context: Context,
    session: SignedIn,
    status: StatusFilter = None,
    agency: AgencyFilter = None,
    round: RoundFilter = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    where = ListFilter(_status(status), agency or None, None, _round(round))
    try:
        after = decode_cursor(cursor) if cursor else None
    except ValueError:
        raise PageRefused(400, "Halaman tidak dikenal", "Tautan halaman berikutnya ini tidak sah.") from None
    items, next_cursor = await queue_page(context.pool, where, PAGE_SIZE, after)
    counted = await counts(context.pool)
    by_status = counted.by_status(where.agency, where.round)
    return render(
        request,
        "queue.html",
        page="queue",
        items=items,
        next_cursor=next_cursor,
        where=where,
        by_status=by_status,
        total=sum(by_status.values()),
        agencies=counted.agencies,
        rounds=counted.rounds,
        deadline=deadline(context.service.rounds, where.round, context),
        first_page=after is None,
    )


@router.get("/board")
async def status_board(
    request: Request, context: Context, session: SignedIn, round: RoundFilter = None
) -> HTMLResponse:
    year = _round(round)
    counted = await counts(context.pool)
    table = counted.by_agency_and_status(year)
    totals = counted.by_status(None, year)
    return render(
        request,
        "board.html",
        page="board",
        table=table,
        totals=totals,
        total=sum(totals.values()),
        columns=[s.value for s in Status],
        rounds=counted.rounds,
        round=year,
        deadline=deadline(context.service.rounds, year, context),
    )


@router.get("/board.csv")
async def board_csv(context: Context, session: SignedIn, round: RoundFilter = None) -> Response:
    year = _round(round)
    rows = await board_rows(context.pool, year)
    return Response(
        board.as_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers=_attachment(board.file_name(year, context.service.clock(), "csv")),
    )


@router.get("/board.xlsx")
async def board_xlsx(context: Context, session: SignedIn, round: RoundFilter = None) -> Response:
    year = _round(round)
    rows = await board_rows(context.pool, year)
    table = (await counts(context.pool)).by_agency_and_status(year)
    return Response(
        board.as_xlsx(rows, table),
        media_type=board.XLSX,
        headers=_attachment(board.file_name(year, context.service.clock(), "xlsx")),
    )


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
