"""Wakes the readers of the global order (projection, status publisher) when any process appends.

review.append_batch NOTIFYs `review_events` on commit. Readers also poll, so a lost notification (the
listening connection dropped) costs latency, never an event.
"""

import contextlib
import logging
from collections.abc import Callable

import asyncpg
from asyncpg.pool import PoolConnectionProxy

log = logging.getLogger(__name__)

CHANNEL = "review_events"


class AppendWakeup:
    def __init__(self, pool: asyncpg.Pool, *on_append: Callable[[], None]) -> None:
        self._pool = pool
        self._callbacks = on_append
        self._connection: PoolConnectionProxy | None = None

    async def start(self) -> None:
        try:
            connection = await self._pool.acquire()
            await connection.add_listener(CHANNEL, self._notified)
            self._connection = connection
        except (OSError, asyncpg.PostgresError) as error:
            log.warning("not listening for appends, polling only: %s", error)

    async def stop(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.remove_listener(CHANNEL, self._notified)
                await self._pool.release(self._connection)
            self._connection = None

    def _notified(self, *_: object) -> None:
        for callback in self._callbacks:
            callback()
