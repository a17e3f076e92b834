"""Console sessions: an API key presented once at sign-in becomes a random session token in an HttpOnly
cookie. The database keeps only the token's SHA-256, the key it was opened with and when it expires.

Every request looks its session up together with its key and holder, in one query: a revoked key, or an
expired session, ends the session at that very request. The CSRF token of a session is derived from the
session token (an HMAC), so it needs no storage and is worthless without the cookie it belongs to."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from shared.access import CALLER_COLUMNS, Caller, Role, authenticate, caller_in

COOKIE = "kipp_console"
LOGIN_COOKIE = "kipp_console_login"  # the sign-in form's own CSRF token (there is no session yet)
PATH = "/console"
CONSOLE_ROLES = (Role.REVIEWER, Role.AUDITOR)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def csrf_for(token: str) -> str:
    """The CSRF token of the session whose token is `token`: what every form of that session carries."""
    return hmac.new(token.encode(), b"kipp console csrf", hashlib.sha256).hexdigest()


def same_token(presented: str | None, expected: str) -> bool:
    return presented is not None and hmac.compare_digest(presented.encode(), expected.encode())


def new_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Session:
    token: str
    caller: Caller
    expires_at: datetime

    @property
    def csrf(self) -> str:
        return csrf_for(self.token)

    @property
    def is_reviewer(self) -> bool:
        return self.caller.role == Role.REVIEWER

    @property
    def is_auditor(self) -> bool:
        return self.caller.role == Role.AUDITOR


class KeyRefused(Exception):
    """The key presented at sign-in is unknown or revoked."""


class NotForTheConsole(Exception):
    """A valid key whose role has no work in the console (a submitting system's)."""

    def __init__(self, caller: Caller) -> None:
        self.caller = caller
        super().__init__(f"a {caller.role.value}'s key")


async def open_session(pool: asyncpg.Pool, key: str, lifetime: timedelta) -> Session:
    """A new session for the holder of `key`. Sessions that have ended (expired, or their key revoked) are
    deleted on the way: sign-ins are rare enough to carry that housekeeping."""
    caller = await authenticate(pool, key)
    if caller is None:
        raise KeyRefused("unknown or revoked key")
    if caller.role not in CONSOLE_ROLES:
        raise NotForTheConsole(caller)
    token = new_token()
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "DELETE FROM access.console_sessions AS s USING access.api_keys AS k"
            " WHERE k.id = s.key_id AND (s.expires_at <= now() OR k.revoked_at IS NOT NULL)"
        )
        expires_at = await conn.fetchval(
            "INSERT INTO access.console_sessions (token_hash, key_id, expires_at)"
            " VALUES ($1, $2, now() + $3) RETURNING expires_at",
            token_hash(token),
            caller.key_id,
            lifetime,
        )
    return Session(token, caller, expires_at)


async def find_session(pool: asyncpg.Pool, token: str) -> Session | None:
    """The session of `token` while it lasts and its key is not revoked; None otherwise."""
    row = await pool.fetchrow(
        f"SELECT {CALLER_COLUMNS}, s.expires_at FROM access.console_sessions AS s"
        " JOIN access.api_keys AS k ON k.id = s.key_id JOIN access.holders AS h ON h.id = k.holder_id"
        " WHERE s.token_hash = $1 AND s.expires_at > now() AND k.revoked_at IS NULL",
        token_hash(token),
    )
    caller = caller_in(row)
    if row is None or caller is None:
        return None
    return Session(token, caller, row["expires_at"])


async def close_session(pool: asyncpg.Pool, token: str) -> None:
    await pool.execute("DELETE FROM access.console_sessions WHERE token_hash = $1", token_hash(token))
