"""The outbox relay: publishes what intake stored in its outbox, signed and with publisher confirms, then
deletes it.

An event is deleted from the outbox only after the broker confirmed it, so a crash or a broker outage at
any moment leads to publishing it again, never to losing it; review records a repeated event once.
Only one relay publishes at a time across all intake processes (a transaction-scoped advisory lock), which
keeps each proposal's events in the order they were accepted.

A row that can never be published (one that cannot be encoded as an AMQP message) is moved to
intake.parked_outbox with the reason, in the same transaction, and the rows after it go on: one bad row
must not hold back every submission behind it.
"""

import asyncio
import logging
from itertools import groupby

import asyncpg
from aio_pika import Message
from faststream.rabbit import RabbitBroker

from shared.broker import envelope_message, exchange, publish_confirmed, unpublishable
from shared.contract import Topology
from shared.db import Connection
from shared.signing import MessageSigner
from shared.worker import Worker

log = logging.getLogger(__name__)

RELAY_LOCK = 7_401_0001
WINDOW = 100  # events published before waiting for their confirms


class OutboxRelay:
    def __init__(
        self, pool: asyncpg.Pool, broker: RabbitBroker, topology: Topology, signer: MessageSigner
    ) -> None:
        self._pool = pool
        self._broker = broker
        self._exchange = exchange(topology.intake_exchange)
        self._signer = signer
        self.worker = Worker("outbox-relay", self._relay_window)

    async def relay_once(self) -> int:
        """Publishes up to one window of events. Returns how many left the outbox (published or parked)."""
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
            parked: dict[int, str] = {}
            ready: list[tuple[asyncpg.Record, Message]] = []
            for row in rows:
                message = self._message(row)
                if reason := unpublishable(message, self._exchange.name, row["routing_key"]):
                    parked[row["id"]] = reason
                else:
                    ready.append((row, message))
            by_proposal = groupby(sorted(ready, key=lambda r: (r[0]["proposal_id"], r[0]["id"])), _proposal)
            await asyncio.gather(*(self._publish_in_order(list(group)) for _, group in by_proposal))
            if parked:
                await _park(conn, parked)
            await conn.execute("DELETE FROM intake.outbox WHERE id = ANY($1)", [row["id"] for row in rows])
            return len(rows)

    async def _relay_window(self) -> bool:
        return await self.relay_once() == WINDOW

    def _message(self, row: asyncpg.Record) -> Message:
        envelope = row["envelope"]
        return envelope_message(
            row["body"].encode(),
            event_id=envelope["event_id"],
            event_type=envelope["event_type"],
            correlation_id=envelope["metadata"]["correlation_id"],
            signer=self._signer,
        )

    async def _publish_in_order(self, rows: list[tuple[asyncpg.Record, Message]]) -> None:
        # Proposals are published side by side; one proposal's events strictly one after the other.
        for row, message in rows:
            await publish_confirmed(self._broker, message, self._exchange, row["routing_key"])


def _proposal(item: tuple[asyncpg.Record, Message]) -> object:
    return item[0]["proposal_id"]


async def _park(conn: Connection, reasons: dict[int, str]) -> None:
    await conn.execute(
        "INSERT INTO intake.parked_outbox"
        " (id, event_id, proposal_id, routing_key, envelope, created_at, reason)"
        " SELECT o.id, o.event_id, o.proposal_id, o.routing_key, o.envelope, o.created_at, r.reason"
        " FROM intake.outbox AS o JOIN unnest($1::bigint[], $2::text[]) AS r(id, reason) ON r.id = o.id",
        list(reasons),
        list(reasons.values()),
    )
    for row_id, reason in reasons.items():
        log.error("outbox row %s parked: %s", row_id, reason)
