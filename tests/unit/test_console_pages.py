"""The console's pure parts: Indonesian dates and numbers, what the proposal page shows, the decisions a
status allows, the board's files, and the resemblance panel drawn from items shaped as the API's."""

import csv
import io
from datetime import UTC, date, datetime
from uuid import uuid4

import pytest

from services.review.console import board, formatting, reading
from services.review.console.pages import ENVIRONMENT, render_text
from services.review.console.resemblances import Panel
from shared.lifecycle import Stage
from shared.rounds import shipped_rounds
from tests.fixtures import a_proposal

RULES = shipped_rounds().rounds[2023]


def test_dates_times_and_numbers_read_as_indonesians_write_them() -> None:
    assert formatting.number(5000) == "5.000"
    assert formatting.number(1234567) == "1.234.567"
    assert formatting.number(999) == "999"
    assert formatting.number(-26694) == "-26.694"
    assert formatting.day(date(2023, 5, 6)) == "6 Mei 2023"
    # 07:05 UTC is 14.05 in WIB; a time late in the UTC day is already the next day in Indonesia.
    assert formatting.moment(datetime(2023, 5, 6, 7, 5, tzinfo=UTC)) == "6 Mei 2023, 14.05 WIB"
    assert formatting.moment("2023-12-31T18:30:00Z") == "1 Januari 2024, 01.30 WIB"


def test_days_left_until_a_round_closes() -> None:
    closes = date(2023, 5, 6)
    assert formatting.days_left(closes, date(2023, 5, 3)) == "tinggal 3 hari lagi"
    assert formatting.days_left(closes, date(2023, 5, 5)) == "tinggal 1 hari lagi (besok hari terakhir)"
    assert formatting.days_left(closes, date(2023, 5, 6)) == "hari ini hari terakhir"
    assert formatting.days_left(closes, date(2023, 5, 8)) == "sudah ditutup 2 hari yang lalu"
    assert formatting.today_in_wib(datetime(2023, 5, 5, 17, 0, tzinfo=UTC)) == date(2023, 5, 6)


def test_sections_are_counted_against_the_rounds_limits_in_its_order() -> None:
    proposal = a_proposal(sections={**a_proposal()["sections"], "summary": "kata " * 201})
    shown = reading.sections(proposal, RULES)
    assert [s.name for s in shown] == list(RULES.sections)
    summary = shown[0]
    assert (summary.words, summary.limit, summary.over) == (201, 200, True)
    assert not any(s.over for s in shown[1:])


def test_documents_are_checked_against_the_rounds_list() -> None:
    proposal = a_proposal(
        documents=[
            {"kind": "initiator_decree", "url": "https://example.go.id/sk.pdf"},
            {"kind": "photo", "url": "https://example.go.id/foto.jpg"},
        ]
    )
    shown = {d.kind: d for d in reading.documents(proposal, RULES)}
    assert shown["initiator_decree"].present
    assert not shown["innovator_identity"].present
    assert shown["innovator_identity"].required
    assert (shown["photo"].required, shown["photo"].urls) == (False, ["https://example.go.id/foto.jpg"])


def test_each_status_offers_only_the_decisions_the_lifecycle_allows() -> None:
    submitted = reading.decisions("submitted")
    assert (submitted.verification, submitted.revision_request, submitted.validation) == (True, True, False)
    verified = reading.decisions("verified")
    assert (verified.verification, verified.validation, verified.revision_request) == (False, True, True)
    assert reading.decisions("validated").national_registration
    assert reading.decisions("registered").selection == Stage.TOP99
    assert reading.decisions("top45").selection == Stage.WINNER
    for final in ("winner", "withdrawn", "verification_failed", "revision_requested"):
        assert not reading.decisions(final).any, final


def test_the_timeline_says_who_did_what_and_why() -> None:
    event = {
        "position": 7,
        "version": 2,
        "type": "RevisionRequested",
        "recorded_at": "2023-05-06T07:05:00Z",
        "metadata": {"actor": {"name": "Rina", "role": "reviewer"}},
        "data": {"reasons": ["ringkasan terlalu umum"], "notes": "perjelas indikator"},
    }
    (moment,) = reading.timeline([event])
    assert (moment.actor, moment.role, moment.position) == ("Rina", "reviewer", 7)
    assert moment.details == ["Alasan: ringkasan terlalu umum", "Catatan: perjelas indikator"]


def _row(title: str) -> dict[str, object]:
    at = datetime(2023, 5, 6, 7, 5, tzinfo=UTC)
    return {
        "proposal_id": uuid4(),
        "title": title,
        "agency": "PDAM Tirta Sejiran Setason",
        "regency": "Kabupaten Bangka Barat",
        "round": 2023,
        "status": "verified",
        "submitted_at": at,
        "updated_at": at,
        "sinovik_reference": None,
        "version": 2,
    }


def test_the_csv_opens_in_an_indonesian_spreadsheet_and_runs_no_formula() -> None:
    content = board.as_csv([_row("Bayar Air; Tanpa Antre"), _row("=1+1"), _row("@SUM(A1)")])
    assert content.startswith("\ufeff".encode())
    header, *rows = csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";")
    assert header[0] == "Judul"
    assert [row[0] for row in rows] == ["Bayar Air; Tanpa Antre", "'=1+1", "'@SUM(A1)"]
    assert rows[0][4:6] == ["Terverifikasi", "6 Mei 2023, 14.05 WIB"]


@pytest.mark.parametrize(
    "title",
    ["=1+1", "+62 811", "-2", "@SUM(A1)", "  =HYPERLINK(\"x\")", "\u3000=1", "\n=1",
     "\uff1d1+1", "\uff0b1", "\uff0d1", "\uff20SUM(A1)", " \uff1dA1", "\tteks", "\rteks"],
)  # fmt: skip
def test_a_title_a_spreadsheet_would_run_as_a_formula_is_kept_as_text(title: str) -> None:
    _, row = csv.reader(io.StringIO(board.as_csv([_row(title)]).decode("utf-8-sig")), delimiter=";")
    assert row[0] == "'" + title


@pytest.mark.parametrize("title", ["Bayar Air = Tanpa Antre", " Lapor Cepat", "SIPANDU-2"])
def test_a_title_that_is_no_formula_is_kept_as_it_is(title: str) -> None:
    _, row = csv.reader(io.StringIO(board.as_csv([_row(title)]).decode("utf-8-sig")), delimiter=";")
    assert row[0] == title


def test_the_board_file_is_named_for_the_round_and_the_day_in_wib() -> None:
    now = datetime(2023, 5, 5, 18, 0, tzinfo=UTC)
    assert board.file_name(2023, now, "xlsx") == "papan-status-kipp-2023-2023-05-06.xlsx"
    assert board.file_name(None, now, "csv") == "papan-status-kipp-semua-2023-05-06.csv"


def test_the_resemblance_panel_shows_passages_side_by_side() -> None:
    other = {
        "proposal_id": str(uuid4()),
        "title": "Lapor Cepat Belitung",
        "agency": {"name": "Diskominfo Belitung", "kind": "opd"},
        "region": {"regency": "Kabupaten Belitung", "province": "Kepulauan Bangka Belitung"},
        "round": 2024,
        "recorded_at": "2024-02-01T00:00:00Z",
        "position": 99,
        "relation": "later",
        "score": 0.87,
        "sections": {"summary": 0.9},
        "declared_replication": False,
        "passages": [
            {
                "section": "summary",
                "text": "satu pintu <aduan>",
                "other_section": "novelty",
                "other_text": "satu pintu aduan",
            }
        ],
    }
    html = render_text("_resemblances.html", resemblances=Panel([other], 1), view={"proposal_id": "p"})
    assert "87% mirip" in html
    assert "Kabupaten Belitung" in html
    assert "tercatat kemudian" in html
    assert html.count("<blockquote>") == 2
    assert html.index("Proposal ini · Ringkasan") < html.index("Proposal lain · Kebaruan")
    assert "satu pintu &lt;aduan&gt;" in html  # proposal text is escaped, never markup
    assert "kemiripan lain" not in html
    none = render_text("_resemblances.html", resemblances=Panel([], 0), view={"proposal_id": "p"})
    assert "Tidak ada proposal lain yang mirip" in none
    more = render_text("_resemblances.html", resemblances=Panel([other], 1_201), view={"proposal_id": "p"})
    assert 'href="/console/proposals/p?kemiripan=semua#kemiripan">Tampilkan 1.200 kemiripan lain' in more


def test_a_key_named_like_a_dict_method_never_hides_the_method() -> None:
    # Keys come from submitted text (an agency named "items", a proposal field named "get"): the pages'
    # quick lookup of dict items must answer as Jinja2 does, where a dict's methods come first.
    template = ENVIRONMENT.from_string(
        '{% for agency, row in table.items() %}{{ agency }}={{ row.get("x", 0) }};{% endfor %}{{ d.title }}'
    )
    rendered = template.render(table={"items": {"get": 1, "x": 2}, "Dinas": {"x": 3}}, d={"title": "T"})
    assert rendered == "items=2;Dinas=3;T"
