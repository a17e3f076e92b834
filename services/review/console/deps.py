"""What the console's routes receive: the service's collaborators, the signed-in session (by role), and a
posted form whose CSRF token has been checked."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, Request

from services.review.api.deps import ReviewContext
from services.review.console.errors import PageRefused, SignInNeeded
from services.review.console.sessions import COOKIE, Session, find_session, same_token
from shared.access import Role


def _context(request: Request) -> ReviewContext:
    context: ReviewContext = request.app.state.context
    return context


Context = Annotated[ReviewContext, Depends(_context)]


async def _session(request: Request) -> Session:
    token = request.cookies.get(COOKIE)
    session = await find_session(_context(request).pool, token) if token else None
    if session is None:
        raise SignInNeeded(ended=token is not None)
    request.state.console_session = session  # for the page's header and its forms
    return session


def _signed_in_as(*roles: Role) -> Callable[..., Awaitable[Session]]:
    async def session(found: Annotated[Session, Depends(_session)]) -> Session:
        if found.caller.role not in roles:
            needed = " atau ".join("peninjau" if r == Role.REVIEWER else "auditor" for r in roles)
            raise PageRefused(
                403,
                "Bukan untuk peran Anda",
                f"Halaman ini hanya untuk {needed}. Anda masuk sebagai {found.caller.name}.",
            )
        return found

    return session


SignedIn = Annotated[Session, Depends(_signed_in_as(Role.REVIEWER, Role.AUDITOR))]
ReviewerSession = Annotated[Session, Depends(_signed_in_as(Role.REVIEWER))]
AuditorSession = Annotated[Session, Depends(_signed_in_as(Role.AUDITOR))]


@dataclass(frozen=True)
class Form:
    """A posted form's fields (a field may repeat: checkboxes)."""

    fields: list[tuple[str, str]]

    def get(self, name: str, default: str = "") -> str:
        return next((value for key, value in self.fields if key == name), default)

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.fields if key == name]


FORM_CONTENT = "application/x-www-form-urlencoded"
CSRF_REFUSED = PageRefused(
    403,
    "Formulir ditolak",
    "Formulir ini tidak membawa token keamanan (CSRF) yang sah untuk sesi Anda, jadi tidak diproses."
    " Muat ulang halamannya, lalu kirim lagi.",
)


async def read_form(request: Request) -> Form:
    """The urlencoded body (the only kind the console's forms send; the body limit applies as for every
    request). The standard library parses it: the console needs no multipart parser."""
    if request.headers.get("content-type", "").split(";")[0].strip() != FORM_CONTENT:
        raise PageRefused(415, "Formulir tidak dikenali", "Kirim formulir ini dari halaman konsol.")
    try:
        text = (await request.body()).decode("utf-8")
        fields = parse_qsl(text, keep_blank_values=True, strict_parsing=False, max_num_fields=500)
    except (UnicodeDecodeError, ValueError):
        raise PageRefused(400, "Formulir tidak terbaca", "Isi formulir tidak dapat dibaca.") from None
    if any("\x00" in value for _, value in fields):
        raise PageRefused(400, "Formulir tidak terbaca", "Isi formulir memuat karakter NUL.")
    return Form(fields)


async def _posted(request: Request, session: SignedIn) -> Form:
    form = await read_form(request)
    if not same_token(form.get("csrf") or None, session.csrf):
        raise CSRF_REFUSED
    return form


PostedForm = Annotated[Form, Depends(_posted)]
"""The form of a signed-in session, its CSRF token checked (403 without it)."""
