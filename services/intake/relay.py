"""The outbox relay: publishes what intake stored in its outbox, with publisher confirms, then deletes it.

An event is deleted from the outbox only after the broker confirmed it, so a crash or a broker outage at
any moment leads to publishing it again, never to losing it; review records a repeated event once.
Only one relay publishes at a time across all intake processes (a transaction-scoped advisory lock), which
keeps each proposal's events in the order they were accepted.
"""

import asyncio
from itertools import groupby

import asyncpg
from faststream.rabbit import RabbitBroker

from shared.broker import envelope_message, exchange, publish_confirmed
from shared.contract import Topology
from shared.worker import Worker

RELAY_LOCK = 7_401_0001
WINDOW = 100  # events published before waiting for their confirms


class OutboxRelay:
    def __init__(self, pool: asyncpg.Pool, broker: RabbitBroker, topology: Topology) -> None:
        self._pool = pool
        self._broker = broker
        self._exchange = exchange(topology.intake_exchange)
        self.worker = Worker("outbox-relay", self._relay_window)

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
            ordered = sorted(rows, key=lambda r: (r["proposal_id"], r["id"]))
            by_proposal = groupby(ordered, lambda r: r["proposal_id"])
            await asyncio.gather(*(self._publish_in_order(list(group)) for _, group in by_proposal))
            await conn.execute("DELETE FROM intake.outbox WHERE id = ANY($1)", [row["id"] for row in rows])
            return len(rows)

    async def _relay_window(self) -> bool:
        return await self.relay_once() == WINDOW

    async def _publish_in_order(self, rows: list[asyncpg.Record]) -> None:
        # Proposals are published side by side; one proposal's events strictly one after the other.
        for row in rows:
            envelope = row["envelope"]
            message = envelope_message(
                row["body"].encode(),
                event_id=envelope["event_id"],
                event_type=envelope["event_type"],
                correlation_id=envelope["metadata"]["correlation_id"],
            )
            await publish_confirmed(self._broker, message, self._exchange, row["routing_key"])
