"""The console over HTTP against both services as processes: sessions (cookie attributes, expiry,
revocation, sign-out), CSRF on every form, who may see what, and the downloads."""

import csv
import io
import json
import zipfile
from xml.etree import ElementTree

import asyncpg
import httpx
from kipp_client import AsyncIntakeClient

from tests.console import console_client, csrf_of, sign_in
from tests.e2e.conftest import System
from tests.e2e.test_review_lifecycle import status_in_review, submit
from tests.fixtures import a_proposal
from tests.keys import Keys


async def test_signing_in_gives_a_strict_http_only_session_cookie_and_signing_out_ends_it(
    system: System, keys: Keys
) -> None:
    async with console_client(system.review.url) as console:
        answer = await sign_in(console, keys.reviewer)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/console"
        cookie = next(v for v in answer.headers.get_list("set-cookie") if v.startswith("kipp_console="))
        attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
        assert {"httponly", "path", "max-age"} <= attributes
        assert "samesite=strict" in cookie.lower()
        assert "secure" not in attributes  # plain http here; behind https the cookie is Secure
        queue = await console.get("/console/queue")
        assert queue.status_code == 200
        assert "Rina (Bagian Organisasi)" in queue.text
        assert queue.headers["content-security-policy"].startswith("default-src 'self'")

        async with console_client(system.review.url) as behind_https:
            # A TLS proxy on this host (uvicorn trusts its X-Forwarded-Proto): every cookie is then Secure,
            # which this plain-http client would not send back by itself.
            behind_https.headers["X-Forwarded-Proto"] = "https"
            form = await behind_https.get("/console/login")
            assert "; secure" in form.headers["set-cookie"].lower()
            login_token = form.headers["set-cookie"].split(";")[0].split("=", 1)[1]
            secure = await behind_https.post(
                "/console/login",
                data={"csrf": csrf_of(form.text), "key": keys.reviewer},
                headers={"Cookie": f"kipp_console_login={login_token}"},
            )
            assert secure.status_code == 303
            assert "; secure" in secure.headers.get_list("set-cookie")[0].lower()

        signed_out = await console.post("/console/logout", data={"csrf": csrf_of(queue.text)})
        assert signed_out.status_code == 303
        console.cookies.set("kipp_console", cookie.split(";")[0].split("=", 1)[1], path="/console")
        after = await console.get("/console/queue")
        assert after.status_code == 303
        assert after.headers["location"].startswith("/console/login")


async def test_a_revoked_key_or_an_expired_session_ends_the_session_at_the_next_request(
    system: System, keys: Keys, database_url: str
) -> None:
    async with console_client(system.review.url) as first, console_client(system.review.url) as second:
        await sign_in(first, keys.reviewer)
        await sign_in(second, keys.auditor)
        assert (await first.get("/console/queue")).status_code == 200
        assert (await second.get("/console/audit")).status_code == 200
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(
                "UPDATE access.api_keys SET revoked_at = now() WHERE id = $1::uuid", keys.reviewer_id
            )
            await conn.execute(
                "UPDATE access.console_sessions SET expires_at = now() - interval '1 second'"
                " WHERE key_id <> $1::uuid",
                keys.reviewer_id,
            )
        finally:
            await conn.close()
        for client, page in ((first, "/console/queue"), (second, "/console/audit")):
            ended = await client.get(page)
            assert ended.status_code == 303
            assert "ended=1" in ended.headers["location"]
        again = await sign_in(first, keys.reviewer)
        assert again.status_code == 401
        assert "tidak dikenal atau sudah dicabut" in again.text


async def test_a_submitter_key_is_refused_and_gets_no_session(system: System, keys: Keys) -> None:
    async with console_client(system.review.url) as console:
        refused = await sign_in(console, keys.submitter)
        assert refused.status_code == 403
        assert "Konsol bukan untuk kunci ini" in refused.text
        assert "kipp_console=" not in " ".join(refused.headers.get_list("set-cookie"))
        assert (await console.get("/console/queue")).status_code == 303


async def test_every_form_needs_its_csrf_token(system: System, keys: Keys, intake: AsyncIntakeClient) -> None:
    proposal_id = await submit(intake)
    async with console_client(system.review.url) as console:
        form = await console.get("/console/login")
        without = await console.post("/console/login", data={"key": keys.reviewer, "next": "/console"})
        assert without.status_code == 403
        assert "Formulir ditolak" in without.text
        forged = await console.post("/console/login", data={"key": keys.reviewer, "csrf": "x" * 64})
        assert forged.status_code == 403
        assert csrf_of(form.text)

        await sign_in(console, keys.reviewer)
        async with httpx.AsyncClient(
            base_url=system.review.url, headers={"Authorization": f"Bearer {keys.reviewer}"}
        ) as api:
            await status_in_review(api, proposal_id, "submitted")
            decision = {"version": "1", "outcome": "passed", "notes": ""}
            for csrf in (None, "", "0" * 64):
                data = decision if csrf is None else {**decision, "csrf": csrf}
                refused = await console.post(
                    f"/console/proposals/{proposal_id}/decisions/verification", data=data
                )
                assert refused.status_code == 403
                assert "Formulir ditolak" in refused.text
            history = (await api.get(f"/v1/proposals/{proposal_id}/history")).json()["events"]
            assert [event["type"] for event in history] == ["ProposalSubmitted"]
            page = await console.get(f"/console/proposals/{proposal_id}")
            accepted = await console.post(
                f"/console/proposals/{proposal_id}/decisions/verification",
                data={**decision, "csrf": csrf_of(page.text)},
            )
            assert accepted.status_code == 303
            history = (await api.get(f"/v1/proposals/{proposal_id}/history")).json()["events"]
            assert history[-1]["type"] == "ProposalVerified"
            assert history[-1]["metadata"]["actor"]["name"] == "Rina (Bagian Organisasi)"
            assert history[-1]["metadata"]["source"] == "review-console"


async def test_reviewers_and_auditors_each_see_their_own_pages(
    system: System, keys: Keys, intake: AsyncIntakeClient
) -> None:
    proposal_id = await submit(intake)
    async with console_client(system.review.url) as reviewer, console_client(system.review.url) as auditor:
        await sign_in(reviewer, keys.reviewer)
        await sign_in(auditor, keys.auditor)
        assert (await reviewer.get("/console")).headers["location"] == "/console/queue"
        assert (await auditor.get("/console")).headers["location"] == "/console/audit"
        refused = await reviewer.get("/console/audit")
        assert refused.status_code == 403
        assert "hanya untuk auditor" in refused.text
        async with httpx.AsyncClient(
            base_url=system.review.url, headers={"Authorization": f"Bearer {keys.reviewer}"}
        ) as api:
            await status_in_review(api, proposal_id, "submitted")
        page = await auditor.get(f"/console/proposals/{proposal_id}")
        assert page.status_code == 200
        assert "Riwayat" in page.text
        assert "decisions/verification" not in page.text  # auditors read; reviewers decide
        csrf = csrf_of(page.text)
        refused = await auditor.post(
            f"/console/proposals/{proposal_id}/decisions/verification",
            data={"csrf": csrf, "version": "1", "outcome": "passed"},
        )
        assert refused.status_code == 403

        export = await auditor.get("/console/audit/export.ndjson")
        assert export.status_code == 200
        assert "attachment" in export.headers["content-disposition"]
        lines = [json.loads(line) for line in export.text.splitlines()]
        assert [line["type"] for line in lines] == ["ProposalSubmitted"]
        certificate = await reviewer.get(f"/console/proposals/{proposal_id}/certificate.json")
        assert certificate.status_code == 200
        assert certificate.json()["format"] == "kipp-priority-certificate/v1"
        missing = await reviewer.get("/console/proposals/00000000-0000-0000-0000-000000000000")
        assert missing.status_code == 404
        assert "tidak ada di buku besar" in missing.text


def _xlsx_rows(content: bytes, sheet: int) -> list[list[str]]:
    """The cells of one sheet of a workbook, as text (shared strings resolved)."""
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    with zipfile.ZipFile(io.BytesIO(content)) as book:
        strings = [
            "".join(t.text or "" for t in si.iter(f"{{{ns['m']}}}t"))
            for si in ElementTree.fromstring(book.read("xl/sharedStrings.xml")).findall("m:si", ns)
        ]
        root = ElementTree.fromstring(book.read(f"xl/worksheets/sheet{sheet}.xml"))
    rows = []
    for row in root.iter(f"{{{ns['m']}}}row"):
        cells = []
        for cell in row.findall("m:c", ns):
            value = cell.findtext("m:v", default="", namespaces=ns)
            cells.append(strings[int(value)] if cell.get("t") == "s" else value)
        rows.append(cells)
    return rows


async def test_the_board_downloads_as_csv_and_xlsx(
    system: System, keys: Keys, intake: AsyncIntakeClient
) -> None:
    first = await submit(intake, a_proposal(title='=HYPERLINK("http://x")'))
    async with httpx.AsyncClient(
        base_url=system.review.url, headers={"Authorization": f"Bearer {keys.reviewer}"}
    ) as api:
        await status_in_review(api, first, "submitted")
    async with console_client(system.review.url) as console:
        await sign_in(console, keys.reviewer)
        board = await console.get("/console/board?round=2023")
        assert "Dinas Komunikasi dan Informatika Kabupaten Bangka Barat" in board.text
        download = await console.get("/console/board.csv?round=2023")
        assert download.headers["content-type"].startswith("text/csv")
        text = download.content.decode("utf-8")
        assert text.startswith("\ufeffJudul;Perangkat daerah;")
        header, row = list(csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";"))
        assert header[:5] == ["Judul", "Perangkat daerah", "Kabupaten/kota", "Tahun", "Status"]
        assert row[0] == '\'=HYPERLINK("http://x")'  # a title is never a formula in a spreadsheet
        assert "Diajukan" in row
        xlsx = await console.get("/console/board.xlsx?round=2023")
        summary, listed = _xlsx_rows(xlsx.content, 1), _xlsx_rows(xlsx.content, 2)
        assert summary[0][:2] == ["Perangkat daerah", "Diajukan"]
        assert summary[-1][0] == "Jumlah"
        assert summary[-1][-1] == "1"
        assert listed[1][0] == '=HYPERLINK("http://x")'  # kept as text: strings are never formulas there
        assert listed[1][4] == "Diajukan"
