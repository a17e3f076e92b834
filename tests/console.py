"""Signing in to the console over plain HTTP, as a browser does: the sign-in form's CSRF token and cookie,
then the session cookie; and the hidden fields a console page's forms carry."""

import re

import httpx

HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')


def hidden_fields(page: str) -> list[tuple[str, str]]:
    return HIDDEN.findall(page)


def csrf_of(page: str) -> str:
    found = dict(hidden_fields(page)).get("csrf")
    assert found, "the page has no form carrying a CSRF token"
    return found


async def sign_in(client: httpx.AsyncClient, key: str) -> httpx.Response:
    """Posts the sign-in form with `key`; answers what the console answered (not following redirects)."""
    form = await client.get("/console/login")
    assert form.status_code == 200, form.text
    return await client.post(
        "/console/login", data={"csrf": csrf_of(form.text), "next": "/console", "key": key}
    )


def console_client(base_url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base_url, timeout=15, follow_redirects=False)
