"""Wakes the readers of the global order (projection, status publisher) when any process appends.

review.append_batch NOTIFYs `review_events` on commit. Readers also poll, so a lost notification (the
listening connection dropped, the database restarted) costs latency, never an event; the listening
connection is re-established once a second when it has dropped.
"""

import contextlib
import logging
from collections.abc import Callable

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from shared.worker import Worker

log = logging.getLogger(__name__)

CHANNEL = "review_events"


class AppendWakeup:
    def __init__(self, pool: asyncpg.Pool, *on_append: Callable[[], None]) -> None:
        self._pool = pool
        self._callbacks = on_append
        self._connection: PoolConnectionProxy | None = None
        self.worker = Worker("append-wakeup", self._keep_listening, poll_seconds=1.0)

    async def _keep_listening(self) -> bool:
        if self._connection is not None and not self._connection.is_closed():
            return False
        await self._release()
        connection = await self._pool.acquire()
        try:
            await connection.add_listener(CHANNEL, self._notified)
        except BaseException:
            await self._pool.release(connection)
            raise
        self._connection = connection
        self._notified()  # appends may have happened while nobody listened
        return False

    async def stop(self) -> None:
        await self.worker.stop()
        await self._release()

    async def _release(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            with contextlib.suppress(Exception):
                await connection.remove_listener(CHANNEL, self._notified)
            with contextlib.suppress(Exception):
                await self._pool.release(connection)

    def _notified(self, *_: object) -> None:
        for callback in self._callbacks:
            callback()
