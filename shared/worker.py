"""A background task that does its work when poked, or at least every poll interval.

The outbox relay, the status projection and the status publisher are all such readers: poked when
there may be something new, polling in case a poke was lost, pausing briefly when a dependency is away.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Worker:
    def __init__(
        self,
        name: str,
        step: Callable[[], Awaitable[bool]],
        poll_seconds: float = 0.5,
        retry_seconds: float = 1.0,
        linger_seconds: float = 0.005,
        gather_seconds: float = 0.0,
    ) -> None:
        """`step` does one batch and returns True when more is waiting (it is then called again at once).
        Poked while it was working, it lingers `linger_seconds` before the next round, so that under load
        the pokes of many callers make one batch (its fixed cost of round trips paid once) rather than a
        batch each. A poke that finds it idle is served at once, or after `gather_seconds` for a reader
        nobody waits on: the pokes of a few appends then make one round, even one caller's, one after
        another."""
        self.name = name
        self._step = step
        self._poll_seconds = poll_seconds
        self._retry_seconds = retry_seconds
        self._linger_seconds = linger_seconds
        self._gather_seconds = gather_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def poke(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            self._wake.clear()  # before the work, so a poke that arrives during it causes another round
            try:
                while await self._step():
                    pass
            except Exception as error:  # the database or broker is away: nothing was lost, try again soon
                log.warning("%s paused, will retry: %s", self.name, error)
                await asyncio.sleep(self._retry_seconds)
                continue
            if self._wake.is_set() and self._linger_seconds:
                # Poked while it worked: under load. Lingering lets the next batch gather many pokes'
                # work. A poke that finds it idle is served at once (or after gather_seconds).
                await asyncio.sleep(self._linger_seconds)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_seconds)
                if self._gather_seconds:
                    await asyncio.sleep(self._gather_seconds)
