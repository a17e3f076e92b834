"""`Authorization: Bearer <key>` for FastAPI routes: 401 without a valid key, 403 for the wrong role."""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.access import Caller, Role, authenticate
from shared.http import Problem, problem_response
from shared.startup import UNREACHABLE

_bearer = HTTPBearer(auto_error=False, description="An API key from `kipp keys create`")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def require(*roles: Role) -> Callable[..., Awaitable[Caller]]:
    async def caller(key: PresentedKey, request: Request) -> Caller:
        # A request with a body was authenticated before its body was read (KeyBeforeBody).
        found = getattr(request.state, "caller", None) or await authenticate(
            request.app.state.context.pool, key
        )
        return allowed(found, roles)

    return caller


class KeyBeforeBody:
    """Answers 401 to a request that carries a body but no valid key, before reading a byte of the body:
    nobody without a key makes the service receive and parse a megabyte. The caller it found is handed to
    the route (`request.state.caller`), which checks the role."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _BODILESS or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        key = _bearer_key(dict(scope["headers"]).get(b"authorization", b""))
        try:
            found = await authenticate(scope["app"].state.context.pool, key) if key else None
        except UNREACHABLE as error:
            await problem_response(503, "Service unavailable", f"the key cannot be checked now: {error}")(
                scope, receive, send
            )
            return
        if found is None:
            detail = (
                "send Authorization: Bearer <api key>" if not key else "the API key is unknown or revoked"
            )
            await problem_response(401, "Unauthorized", detail, _CHALLENGE)(scope, receive, send)
            return
        scope.setdefault("state", {})["caller"] = found
        await self.app(scope, receive, send)


_BODILESS = ("GET", "HEAD", "OPTIONS")


def _bearer_key(header: bytes) -> str | None:
    scheme, _, key = header.decode("latin-1").partition(" ")
    return key.strip() or None if scheme.lower() == "bearer" else None


async def _presented_key(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    if credentials is None:
        raise Problem(401, "Unauthorized", "send Authorization: Bearer <api key>", headers=_CHALLENGE)
    return credentials.credentials


def allowed(found: Caller | None, roles: tuple[Role, ...]) -> Caller:
    """The caller, or 401 (no such active key) or 403 (a role not among `roles`)."""
    if found is None:
        raise Problem(401, "Unauthorized", "the API key is unknown or revoked", headers=_CHALLENGE)
    if found.role not in roles:
        allowed = " or ".join(role.value for role in roles)
        raise Problem(403, "Forbidden", f"this needs the role {allowed}; the key is a {found.role.value}'s")
    return found


# The key as presented, not yet looked up: for a route that looks its caller up itself, in the same query
# as what it reads, and then passes the result through `allowed`.
PresentedKey = Annotated[str, Depends(_presented_key)]
READERS = (Role.REVIEWER, Role.AUDITOR)


Submitter = Annotated[Caller, Depends(require(Role.SUBMITTER))]
Reviewer = Annotated[Caller, Depends(require(Role.REVIEWER))]
Auditor = Annotated[Caller, Depends(require(Role.AUDITOR))]
Reader = Annotated[Caller, Depends(require(*READERS))]
