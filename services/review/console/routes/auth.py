"""Signing in with an API key, signing out, and where /console leads."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.review.console.deps import CSRF_REFUSED, Context, PostedForm, SignedIn, read_form
from services.review.console.pages import render
from services.review.console.sessions import (
    COOKIE,
    LOGIN_COOKIE,
    PATH,
    KeyRefused,
    NotForTheConsole,
    close_session,
    new_token,
    open_session,
    same_token,
)
from services.review.console.sessions import Session as ConsoleSession

router = APIRouter(prefix="/console", include_in_schema=False)


def _next_page(wanted: str | None) -> str:
    """Only a console page of this service: never another host (`//evil`, `/\\evil`) after signing in."""
    if (
        wanted
        and wanted.startswith("/console")
        and not wanted.startswith(("//", "/\\"))
        and "\\" not in wanted
    ):
        return wanted
    return "/console"


def _secure(request: Request) -> bool:
    # Behind a TLS-terminating proxy the scheme comes from X-Forwarded-Proto, which uvicorn takes from
    # the proxies it trusts (FORWARDED_ALLOW_IPS).
    return request.url.scheme == "https"


def _login_page(
    request: Request,
    status: int = 200,
    error: str = "",
    next_page: str = "/console",
    ended: bool = False,
    signed_out: bool = False,
) -> HTMLResponse:
    token = new_token()
    page = render(
        request,
        "login.html",
        status,
        login_csrf=token,
        error=error,
        next_page=next_page,
        ended=ended,
        signed_out=signed_out,
    )
    page.set_cookie(
        LOGIN_COOKIE, token, path=f"{PATH}/login", httponly=True, samesite="strict", secure=_secure(request)
    )
    return page


@router.get("/login")
async def login_form(
    request: Request,
    next: Annotated[str | None, Query(max_length=2000)] = None,
    ended: Annotated[str | None, Query(max_length=5)] = None,
    signed_out: Annotated[str | None, Query(max_length=5)] = None,
) -> HTMLResponse:
    return _login_page(request, next_page=_next_page(next), ended=bool(ended), signed_out=bool(signed_out))


@router.post("/login")
async def login(request: Request, context: Context) -> Response:
    form = await read_form(request)
    if not same_token(form.get("csrf") or None, request.cookies.get(LOGIN_COOKIE, "")):
        raise CSRF_REFUSED
    next_page = _next_page(form.get("next"))
    key = form.get("key").strip()
    if not key:
        return _login_page(request, 422, "Isi kunci API Anda.", next_page)
    hours = context.settings.console_session_hours
    try:
        session = await open_session(context.pool, key, timedelta(hours=hours))
    except KeyRefused:
        return _login_page(request, 401, "Kunci API tidak dikenal atau sudah dicabut.", next_page)
    except NotForTheConsole as refused:
        return render(
            request,
            "refused.html",
            403,
            title="Konsol bukan untuk kunci ini",
            message=(
                f"Kunci ini milik {refused.caller.name}, sebuah sistem pengaju. Konsol hanya untuk peninjau"
                " (Bagian Organisasi) dan auditor; sistem pengaju mengirim dan merevisi proposal lewat API"
                " intake."
            ),
            show_login=True,
        )
    response = RedirectResponse(next_page, status_code=303)
    response.set_cookie(
        COOKIE,
        session.token,
        max_age=int(hours * 3600),
        path=PATH,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    response.delete_cookie(LOGIN_COOKIE, path=f"{PATH}/login")
    return response


@router.post("/logout")
async def logout(request: Request, context: Context, session: SignedIn, _: PostedForm) -> Response:
    await close_session(context.pool, session.token)
    response = RedirectResponse("/console/login?signed_out=1", status_code=303)
    response.delete_cookie(COOKIE, path=PATH)
    return response


@router.get("")
async def home(session: SignedIn) -> Response:
    return RedirectResponse(_home_of(session), status_code=303)


def _home_of(session: ConsoleSession) -> str:
    return "/console/queue" if session.is_reviewer else "/console/audit"
