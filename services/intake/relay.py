"""The outbox relay: publishes what intake stored in its outbox, with publisher confirms, then deletes it.

An event is deleted from the outbox only after the broker confirmed it, so a crash or a broker outage at
any moment leads to publishing it again, never to losing it; review records a repeated event once.
Only one relay publishes at a time across all intake processes (a transaction-scoped advisory lock), which
keeps each proposal's events in the order they were accepted.
"""

import asyncio
import contextlib
import logging
from itertools import groupby
from typing import Any

import asyncpg
from aio_pika import DeliveryMode, Message
from faststream.rabbit import RabbitBroker

from shared.broker import exchange
from shared.contract import Topology

log = logging.getLogger(__name__)

RELAY_LOCK = 7_401_0001
WINDOW = 100  # events published before waiting for their confirms
POLL_SECONDS = 0.5
RETRY_SECONDS = 1.0


def message_for(envelope: dict[str, Any], body: bytes) -> Message:
    return Message(
        body,
        message_id=envelope["event_id"],
        type=envelope["event_type"],
        content_type="application/json",
        correlation_id=envelope["metadata"]["correlation_id"],
        delivery_mode=DeliveryMode.PERSISTENT,
    )


class OutboxRelay:
    def __init__(self, pool: asyncpg.Pool, broker: RabbitBroker, topology: Topology) -> None:
        self._pool = pool
        self._broker = broker
        self._exchange = exchange(topology.intake_exchange)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def poke(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def relay_once(self) -> int:
        """Publishes up to one window of events. Returns how many were confirmed and removed."""
        async with self._pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", RELAY_LOCK):
                return 0  # another intake process is relaying
            rows = await conn.fetch(
                "SELECT id, proposal_id, routing_key, envelope, envelope::text AS body"
                " FROM intake.outbox ORDER BY id LIMIT $1",
                WINDOW,
            )
            if not rows:
                return 0
            by_proposal = groupby(
                sorted(rows, key=lambda r: (r["proposal_id"], r["id"])), lambda r: r["proposal_id"]
            )
            await asyncio.gather(*(self._publish_in_order(list(group)) for _, group in by_proposal))
            await conn.execute("DELETE FROM intake.outbox WHERE id = ANY($1)", [row["id"] for row in rows])
            return len(rows)

    async def _publish_in_order(self, rows: list[asyncpg.Record]) -> None:
        # Proposals are published side by side; one proposal's events strictly one after the other.
        for row in rows:
            await self._broker.publish(
                message_for(row["envelope"], row["body"].encode()),
                exchange=self._exchange,
                routing_key=row["routing_key"],
                persist=True,
            )

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                while await self.relay_once() == WINDOW:
                    pass
            except Exception as error:  # broker or database away: everything stays in the outbox
                log.warning("outbox relay paused, will retry: %s", error)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
