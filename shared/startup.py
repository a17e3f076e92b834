"""Start-up that waits for PostgreSQL and RabbitMQ instead of failing when one is not up yet."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

log = logging.getLogger(__name__)

T = TypeVar("T")

# What "not reachable (yet)" looks like: refused or dropped connections (the broker client's errors are
# OSErrors too), and a PostgreSQL that is starting up, shutting down or out of connection slots.
UNREACHABLE: tuple[type[Exception], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.TooManyConnectionsError,  # a server at its connection limit: slots free up as others leave
)


async def keep_trying(what: str, attempt: Callable[[], Awaitable[T]], pause: float = 1.0) -> T:
    """Retries `attempt` until it succeeds: a service started before its database or broker waits."""
    while True:
        try:
            return await attempt()
        except UNREACHABLE as error:
            log.warning("%s not reachable yet, retrying in %.0f s: %s", what, pause, error)
        await asyncio.sleep(pause)
