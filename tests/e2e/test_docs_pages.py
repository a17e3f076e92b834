"""The documentation pages (Swagger UI, ReDoc, AsyncAPI) load nothing from another host: every script, style
sheet and icon they name is served by the service itself, so they show on a network without internet."""

import re

import httpx

from tests.e2e.conftest import System

# Each page, and the global its main script defines (the page calls it once the script has loaded).
PAGES = {"/docs": b"SwaggerUIBundle", "/redoc": b"Redoc", "/asyncapi": b"AsyncApiStandalone"}
CONTENT_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".json": "application/json",
}


def references(page: str) -> list[str]:
    """What a page asks the browser to load: src and href attributes, and the OpenAPI document's URL."""
    attributes = re.findall(r'\b(?:src|href|spec-url)="([^"]*)"', page)
    return attributes + re.findall(r"\burl: '([^']*)'", page)  # Swagger UI's `url: '/openapi.json'`


async def test_the_documentation_pages_load_everything_from_the_service_itself(system: System) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        for service in (system.intake, system.review):
            for path, script_global in PAGES.items():
                page = await client.get(f"{service.url}{path}")
                where = f"{service.name} {path}"
                assert page.status_code == 200, where
                assert page.headers["content-type"].startswith("text/html"), where
                assert "http://" not in page.text, where
                assert "https://" not in page.text, where
                assert "cdn" not in page.text.lower(), where
                found = references(page.text)
                assert any(url.endswith(".js") for url in found), where
                scripts = b""
                for url in found:
                    assert url.startswith("/"), (where, url)
                    assert not url.startswith("//"), (where, url)  # another host, whatever the scheme
                    asset = await client.get(f"{service.url}{url}")
                    assert asset.status_code == 200, (where, url)
                    expected = CONTENT_TYPES[url[url.rindex(".") :]]
                    assert asset.headers["content-type"].startswith(expected), (where, url)
                    assert asset.content, (where, url)
                    if url.endswith(".js"):
                        scripts += asset.content
                assert script_global in scripts, where


async def test_only_the_pages_files_are_served_as_documentation_assets(system: System) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        for name in ("core.py", "..%2Fdocs.py", "index.js"):
            answer = await client.get(f"{system.intake.url}/docs-assets/{name}")
            assert answer.status_code == 404, name
