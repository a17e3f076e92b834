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
    async def caller(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> Caller:
        if credentials is None:
            raise Problem(401, "Unauthorized", "send Authorization: Bearer <api key>", headers=_CHALLENGE)
        found = await authenticate(request.app.state.context.pool, credentials.credentials)
        if found is None:
            raise Problem(401, "Unauthorized", "the API key is unknown or revoked", headers=_CHALLENGE)
        if found.role not in roles:
            allowed = " or ".join(role.value for role in roles)
            raise Problem(
                403, "Forbidden", f"this needs the role {allowed}; the key is a {found.role.value}'s"
            )
        return found

    return caller


Submitter = Annotated[Caller, Depends(require(Role.SUBMITTER))]
Reviewer = Annotated[Caller, Depends(require(Role.REVIEWER))]
Auditor = Annotated[Caller, Depends(require(Role.AUDITOR))]
Reader = Annotated[Caller, Depends(require(Role.REVIEWER, Role.AUDITOR))]
