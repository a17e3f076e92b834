"""A real browser for the console's tests: the system's Chromium (Debian's `chromium` package), driven by
Playwright, which cannot download a browser of its own here. `KIPP_CHROMIUM` names another executable.

There is no skipping: without the browser these tests fail, saying how to install it (`.ci/run` installs
it when it is missing)."""

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, ViewportSize, async_playwright

# Both services as processes, as the end-to-end tests run them.
from tests.e2e.conftest import intake, review, system  # noqa: F401

CHROMIUM = os.environ.get("KIPP_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent.parent.parent / "docs" / "screenshots"
DESKTOP = ViewportSize(width=1280, height=800)
PHONE = ViewportSize(width=390, height=844)


def _chromium() -> str:
    executable = shutil.which(CHROMIUM) or (CHROMIUM if Path(CHROMIUM).is_file() else None)
    if executable is None:
        pytest.fail(
            f"no Chromium at {CHROMIUM}: install Debian's (apt-get install chromium), or name one in"
            " KIPP_CHROMIUM"
        )
    return executable


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    executable = _chromium()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def desktop(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh browser profile (no cookies) at 1280 by 800, speaking Indonesian, in WIB."""
    context = await browser.new_context(
        viewport=DESKTOP, locale="id-ID", timezone_id="Asia/Jakarta", accept_downloads=True
    )
    context.set_default_timeout(15_000)
    try:
        yield context
    finally:
        await context.close()


def screenshots_wanted() -> bool:
    """Screenshots for the README are taken only when asked (KIPP_SCREENSHOTS=1), so that an ordinary test
    run leaves the work tree as it was."""
    return os.environ.get("KIPP_SCREENSHOTS") == "1"
