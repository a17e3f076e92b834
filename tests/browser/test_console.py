"""The console in a real browser (Chromium, driven by Playwright) against both services as processes: a
reviewer's day (sign in, filter the queue, verify, meet a colleague's decision, ask for a revision and see
the revised text, download the board, sign out), an auditor verifying the chain, a submitter refused, a form
without its CSRF token refused; labels, keyboard and a phone's width."""

import asyncio
import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import httpx
from kipp_client import AsyncIntakeClient
from playwright.async_api import BrowserContext, Page, expect

from tests.apps import eventually
from tests.browser.conftest import PHONE, SCREENSHOTS, screenshots_wanted
from tests.e2e.conftest import System
from tests.e2e.test_review_lifecycle import status_in_review, submit
from tests.fixtures import demo_proposals
from tests.keys import Keys, bearer

KOMINFO, PERKIMHUB, KB_DATA, KB_STUNTING, PDAM = demo_proposals()
KB_AGENCY = KB_DATA["agency"]["name"]


async def submit_all(intake: AsyncIntakeClient, review_url: str, keys: Keys) -> dict[str, str]:
    """The five demo proposals, submitted and visible in review: title -> proposal id."""
    ids = {p["title"]: await submit(intake, p) for p in (KOMINFO, PERKIMHUB, KB_DATA, KB_STUNTING, PDAM)}
    async with httpx.AsyncClient(base_url=review_url, headers=bearer(keys.reviewer), timeout=10) as api:
        for proposal_id in ids.values():
            await status_in_review(api, proposal_id, "submitted")
    return ids


async def sign_in(page: Page, base_url: str, key: str) -> None:
    """With the keyboard alone: the key field has the focus when the page opens; Enter sends the form."""
    await page.goto(f"{base_url}/console")
    await expect(page).to_have_url(f"{base_url}/console/login?next=%2Fconsole")
    await expect(page.get_by_label("Kunci API")).to_be_focused()
    await page.keyboard.type(key)
    async with page.expect_navigation():
        await page.keyboard.press("Enter")


async def read_text(path: Path, encoding: str = "utf-8") -> str:
    return await asyncio.to_thread(path.read_text, encoding=encoding)


async def snapshot(page: Page, name: str) -> None:
    if screenshots_wanted():
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=SCREENSHOTS / f"{name}.png")


async def every_control_is_labelled(page: Page) -> list[str]:
    """The controls a person can use on the page that have no label (by <label>, aria-label or legend)."""
    unlabelled: list[str] = await page.evaluate(
        """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
            .filter(c => !(c.labels && c.labels.length) && !c.getAttribute('aria-label')
                         && !(c.tagName === 'BUTTON' && c.textContent.trim()))
            .map(c => c.outerHTML)"""
    )
    return unlabelled


async def history_types(review_url: str, keys: Keys, proposal_id: str) -> list[str]:
    async with httpx.AsyncClient(base_url=review_url, headers=bearer(keys.auditor), timeout=10) as api:
        events: list[dict[str, Any]] = (await api.get(f"/v1/proposals/{proposal_id}/history")).json()[
            "events"
        ]
    return [event["type"] for event in events]


async def test_a_reviewers_day_in_the_console(
    system: System, keys: Keys, intake: AsyncIntakeClient, desktop: BrowserContext, tmp_path: Path
) -> None:
    base = system.review.url
    ids = await submit_all(intake, base, keys)
    page = await desktop.new_page()
    await sign_in(page, base, keys.reviewer)

    # The queue: everything, counted by status, with the round's closing day.
    await expect(page).to_have_url(f"{base}/console/queue")
    await expect(page.get_by_role("heading", name="Antrean proposal")).to_be_visible()
    await expect(page.locator(".counts a").first).to_contain_text("Semua 5")
    await expect(page.locator("#tenggat")).to_contain_text("KIPP 2023 ditutup 31 Desember 2099")
    await expect(page.locator("table.queue tbody tr")).to_have_count(5)
    assert await every_control_is_labelled(page) == []
    await snapshot(page, "queue")

    # Filtered by agency: choosing it is enough (the form sends itself), and the counts follow the filter.
    await page.get_by_label("Perangkat daerah").select_option(KB_AGENCY)
    await expect(page.locator("table.queue tbody tr")).to_have_count(2)
    await expect(page.locator(".counts a").first).to_contain_text("Semua 2")
    assert "agency=" in page.url
    await page.get_by_label("Status", exact=True).select_option("verified")
    await expect(page.locator("table.queue tbody")).to_contain_text("Tidak ada proposal yang cocok")

    # A proposal: its sections against the limits, its documents, its history; verified on version 1.
    await page.goto(f"{base}/console/queue")
    await page.get_by_role("link", name=KOMINFO["title"]).click()
    await expect(page.get_by_role("heading", name=KOMINFO["title"], level=1)).to_be_visible()
    await expect(page.locator("#bagian-summary .words")).to_contain_text("/ 200 kata")
    await expect(page.locator(".checklist li")).to_have_count(5)
    await expect(page.locator(".timeline > li")).to_have_count(1)
    assert await every_control_is_labelled(page) == []
    await snapshot(page, "proposal")
    await page.get_by_label("Lolos verifikasi").check()
    await page.get_by_role("button", name="Simpan verifikasi").click()
    await expect(page.locator("#tersimpan")).to_contain_text("Terverifikasi")
    await expect(page.locator(".timeline > li").last).to_contain_text("Verifikasi: lolos")
    await expect(page.locator(".timeline > li").last).to_contain_text("Rina (Bagian Organisasi)")
    await expect(page.locator("#form-validasi")).to_be_visible()  # the next decision it waits for

    # A colleague decides first on the version this page shows: the page's decision is not recorded, and
    # the conflict says who decided what, and when.
    await page.goto(f"{base}/console/proposals/{ids[PDAM['title']]}")
    async with httpx.AsyncClient(base_url=base, headers=bearer(keys.other_reviewer), timeout=10) as colleague:
        first = await colleague.post(
            f"/v1/proposals/{ids[PDAM['title']]}/verification",
            json={"outcome": "failed", "notes": "SK inisiator belum ditandatangani"},
            headers={"If-Match": '"1"'},
        )
        assert first.status_code == 200, first.text
    await page.get_by_label("Lolos verifikasi").check()
    await page.get_by_role("button", name="Simpan verifikasi").click()
    await expect(page.get_by_role("heading", name="Rekan Anda sudah memutuskan lebih dulu")).to_be_visible()
    conflict = page.locator(".conflict")
    await expect(conflict).to_contain_text("tidak disimpan")
    await expect(conflict).to_contain_text("Verifikasi: tidak lolos")
    await expect(conflict).to_contain_text("Budi (Bagian Organisasi)")
    await expect(conflict).to_contain_text("SK inisiator belum ditandatangani")
    await expect(conflict.locator(".badge")).to_have_text("Tidak lolos verifikasi")
    assert await history_types(base, keys, ids[PDAM["title"]]) == ["ProposalSubmitted", "VerificationFailed"]

    # A revision request with its reasons; the submitter's revision then shows as the proposal's text.
    await page.goto(f"{base}/console/proposals/{ids[PERKIMHUB['title']]}")
    await page.get_by_text("Minta revisi").click()
    await page.get_by_label("Alasan (satu per baris)").fill("Ringkasan terlalu umum\nLampirkan SK inisiator")
    await page.get_by_role("button", name="Kirim permintaan revisi").click()
    await expect(page.locator("#tersimpan")).to_contain_text("Diminta revisi")
    await expect(page.locator(".card.warn")).to_contain_text("Lampirkan SK inisiator")
    revised = {
        **PERKIMHUB,
        "title": f"{PERKIMHUB['title']} (revisi)",
        "sections": {
            **PERKIMHUB["sections"],
            "summary": "Ringkasan yang diperjelas dengan indikator capaian.",
        },
    }
    answer = await intake.revise(ids[PERKIMHUB["title"]], revised)
    assert answer.http_status == 202, answer.body

    async def revised_page() -> bool:
        await page.reload()
        title: str = await page.locator("h1").inner_text()
        return title == str(revised["title"])

    await eventually(revised_page, within=15)
    await expect(page.locator("#bagian-summary")).to_contain_text("diperjelas dengan indikator capaian")
    await expect(page.locator(".timeline > li").last).to_contain_text("Revisi dikirim")
    await expect(page.locator(".badge").first).to_have_text("Diajukan")

    # The board, and its downloads for the section's report.
    await page.get_by_role("link", name="Papan status").click()
    await expect(page.locator("table.board tfoot")).to_contain_text("5")
    await snapshot(page, "board")
    async with page.expect_download() as csv_download:
        await page.locator("#unduh-csv").click()
    saved = await read_text(await (await csv_download.value).path(), "utf-8-sig")
    rows = list(csv.reader(io.StringIO(saved), delimiter=";"))
    assert rows[0][0] == "Judul"
    assert sorted(row[0] for row in rows[1:]) == sorted(
        [*ids.keys() - {PERKIMHUB["title"]}, revised["title"]]
    )
    assert {row[4] for row in rows[1:]} == {"Diajukan", "Terverifikasi", "Tidak lolos verifikasi"}
    async with page.expect_download() as xlsx_download:
        await page.locator("#unduh-xlsx").click()
    with zipfile.ZipFile(await (await xlsx_download.value).path()) as book:
        assert "xl/worksheets/sheet2.xml" in book.namelist()

    # Signing out ends the session: the queue asks for a key again.
    await page.get_by_role("button", name="Keluar").click()
    await expect(page.get_by_text("Anda sudah keluar")).to_be_visible()
    await page.goto(f"{base}/console/queue")
    await expect(page.get_by_label("Kunci API")).to_be_visible()


async def test_an_auditor_verifies_the_chain_and_exports_the_history(
    system: System, keys: Keys, intake: AsyncIntakeClient, desktop: BrowserContext
) -> None:
    base = system.review.url
    ids = await submit_all(intake, base, keys)
    page = await desktop.new_page()
    await sign_in(page, base, keys.auditor)
    await expect(page).to_have_url(f"{base}/console/audit")
    await page.get_by_role("link", name="Periksa rantai sekarang").click()
    await expect(page.locator("#hasil-periksa")).to_contain_text("Rantai hash utuh. 5 peristiwa diperiksa")
    await expect(page.locator("#log-key")).to_contain_text("test.kipp.local/log+")
    assert await every_control_is_labelled(page) == []
    await snapshot(page, "audit")
    async with page.expect_download() as export:
        await page.locator("#ekspor").click()
    lines = (await read_text(await (await export.value).path())).splitlines()
    assert sorted(json.loads(line)["proposal_id"] for line in lines) == sorted(ids.values())
    # An auditor reads a proposal and its history, and decides nothing.
    await page.goto(f"{base}/console/proposals/{ids[KOMINFO['title']]}")
    await expect(page.locator(".timeline > li")).to_have_count(1)
    await expect(page.get_by_role("button", name="Simpan verifikasi")).to_have_count(0)


async def test_a_submitter_key_is_refused_with_a_clear_page(
    system: System, keys: Keys, desktop: BrowserContext
) -> None:
    page = await desktop.new_page()
    await sign_in(page, system.review.url, keys.submitter)
    await expect(page.get_by_role("heading", name="Konsol bukan untuk kunci ini")).to_be_visible()
    await expect(page.get_by_role("alert")).to_contain_text("Portal Diskominfo")
    await page.goto(f"{system.review.url}/console/queue")
    await expect(page.get_by_label("Kunci API")).to_be_visible()


async def test_a_form_without_its_csrf_token_is_refused(
    system: System, keys: Keys, intake: AsyncIntakeClient, desktop: BrowserContext
) -> None:
    base = system.review.url
    proposal_id = await submit(intake, KOMINFO)
    async with httpx.AsyncClient(base_url=base, headers=bearer(keys.reviewer), timeout=10) as api:
        await status_in_review(api, proposal_id, "submitted")
    page = await desktop.new_page()
    await sign_in(page, base, keys.reviewer)
    await page.goto(f"{base}/console/proposals/{proposal_id}")
    await page.locator("#form-verifikasi input[name=csrf]").evaluate("field => field.remove()")
    await page.get_by_label("Lolos verifikasi").check()
    async with page.expect_response(f"{base}/console/proposals/{proposal_id}/decisions/verification") as sent:
        await page.get_by_role("button", name="Simpan verifikasi").click()
    assert (await sent.value).status == 403
    await expect(page.get_by_role("heading", name="Formulir ditolak")).to_be_visible()
    assert await history_types(base, keys, proposal_id) == ["ProposalSubmitted"]


async def test_the_proposal_page_fits_a_phone(
    system: System, keys: Keys, intake: AsyncIntakeClient, desktop: BrowserContext
) -> None:
    base = system.review.url
    proposal_id = await submit(intake, KOMINFO)
    async with httpx.AsyncClient(base_url=base, headers=bearer(keys.reviewer), timeout=10) as api:
        await status_in_review(api, proposal_id, "submitted")
    page = await desktop.new_page()
    await sign_in(page, base, keys.reviewer)
    await page.set_viewport_size(PHONE)
    for path in (f"/console/proposals/{proposal_id}", "/console/queue", "/console/board"):
        await page.goto(f"{base}{path}")
        # Nothing wider than the screen but the tables, which scroll inside their own frame.
        overflow = await page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= PHONE["width"], path
    await page.goto(f"{base}/console/proposals/{proposal_id}")
    await snapshot(page, "proposal-phone")
