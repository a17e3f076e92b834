"""`Authorization: Bearer <key>` for FastAPI routes: 401 without a valid key, 403 for the wrong role."""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.access import Caller, Role, authenticate
from shared.http import Problem

_bearer = HTTPBearer(auto_error=False, description="An API key from `kipp keys create`")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def require(*roles: Role) -> Callable[..., Awaitable[Caller]]:
    async def caller(key: PresentedKey, request: Request) -> Caller:
        return allowed(await authenticate(request.app.state.context.pool, key), roles)

    return caller


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
