"""The status board as files for the section's report: CSV (one row per proposal) and an Excel workbook
(a summary sheet of agencies by status, and the same rows). Pure: rows in, bytes out.

The CSV is what a spreadsheet set to Indonesian opens without asking: semicolons between fields (the
comma is the decimal separator there), UTF-8 with a byte order mark, dates as Indonesians write them."""

import csv
import io
from datetime import datetime
from typing import Any

import xlsxwriter

from services.review.console import formatting, labels
from shared.lifecycle import Status

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER = [
    "Judul",
    "Perangkat daerah",
    "Kabupaten/kota",
    "Tahun",
    "Status",
    "Diajukan",
    "Diperbarui",
    "Referensi SINOVIK",
    "Versi",
    "ID proposal",
]


def file_name(round: int | None, now: datetime, extension: str) -> str:
    day = formatting.today_in_wib(now).isoformat()
    return f"papan-status-kipp-{round or 'semua'}-{day}.{extension}"


def _cells(row: dict[str, Any]) -> list[Any]:
    return [
        row["title"] or "",
        row["agency"],
        row["regency"],
        row["round"],
        labels.label(labels.STATUSES, row["status"]),
        formatting.moment(row["submitted_at"]),
        formatting.moment(row["updated_at"]) if row["updated_at"] else "",
        row["sinovik_reference"] or "",
        row["version"],
        str(row["proposal_id"]),
    ]


# What a spreadsheet may read as the start of a formula: the ASCII signs, their full-width forms (typed
# by East Asian input methods; some spreadsheets take them as the ASCII signs), and
# tab and carriage return (OWASP's list for CSV injection).
_FORMULA_STARTS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20\t\r")


def _safe(cell: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula is kept as text: a title is data, never a
    formula (CSV injection). Leading whitespace does not hide the sign: spreadsheets skip it."""
    if (
        isinstance(cell, str)
        and cell
        and (cell[0] in _FORMULA_STARTS or cell.lstrip()[:1] in _FORMULA_STARTS)
    ):
        return "'" + cell
    return cell


def as_csv(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADER)
    for row in rows:
        writer.writerow([_safe(cell) for cell in _cells(row)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def as_xlsx(rows: list[dict[str, Any]], table: dict[str, dict[str, int]]) -> bytes:
    out = io.BytesIO()
    # Every cell written as given: no text is turned into a formula, a number or a link.
    book = xlsxwriter.Workbook(
        out,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    bold = book.add_format({"bold": True})
    summary = book.add_worksheet("Rekap")
    statuses = [s.value for s in Status]
    summary.write_row(0, 0, ["Perangkat daerah", *(labels.STATUSES[s] for s in statuses), "Jumlah"], bold)
    for number, (agency, by_status) in enumerate(table.items(), start=1):
        counted = [by_status.get(s, 0) for s in statuses]
        summary.write_row(number, 0, [agency, *counted, sum(counted)])
    totals = [sum(row.get(s, 0) for row in table.values()) for s in statuses]
    summary.write_row(len(table) + 1, 0, ["Jumlah", *totals, sum(totals)], bold)
    summary.set_column(0, 0, 48)
    listed = book.add_worksheet("Proposal")
    listed.write_row(0, 0, HEADER, bold)
    for number, row in enumerate(rows, start=1):
        listed.write_row(number, 0, _cells(row))
    listed.set_column(0, 0, 60)
    listed.set_column(1, 1, 40)
    listed.freeze_panes(1, 0)
    book.close()
    return out.getvalue()
