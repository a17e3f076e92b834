"""What a console page answers when it cannot show what was asked: an HTML page in Indonesian (never
problem+json, which is the API's), or the sign-in page when there is no session."""

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.review.console.pages import render


class PageRefused(Exception):
    """Answered as the refusal page: `status`, a title and a sentence saying why and what to do."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message


class SignInNeeded(Exception):
    """No session, or one that has ended (expired, signed out, or its key revoked)."""

    def __init__(self, ended: bool) -> None:
        super().__init__("sign in")
        self.ended = ended


def not_found(what: str) -> PageRefused:
    return PageRefused(404, "Tidak ditemukan", f"{what} tidak ada di buku besar ini.")


def install_error_pages(app: FastAPI) -> None:
    @app.exception_handler(PageRefused)
    async def _refused(request: Request, refused: PageRefused) -> HTMLResponse:
        return render(request, "refused.html", refused.status, title=refused.title, message=refused.message)

    @app.exception_handler(SignInNeeded)
    async def _sign_in(request: Request, needed: SignInNeeded) -> Response:
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target = f"/console/login?next={quote(back, safe='')}" + ("&ended=1" if needed.ended else "")
        response = RedirectResponse(target, status_code=303)
        if needed.ended:
            response.delete_cookie("kipp_console", path="/console")
        return response
