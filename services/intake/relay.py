"""The outbox relay: publishes what intake stored in its outbox, signed and with publisher confirms, then
deletes it.

An event is deleted from the outbox only after the broker confirmed it, so a crash or a broker outage at
any moment leads to publishing it again, never to losing it; review records a repeated event once.
Only one relay publishes at a time across all intake processes (a transaction-scoped advisory lock), which
keeps each proposal's events in the order they were accepted.

A row that can never be published (one that cannot be encoded as an AMQP message) is moved to
intake.parked_outbox with the reason, in the same transaction, and the rows after it go on.
"""

import logging
from functools import partial

import asyncpg
from aio_pika import Message
from faststream.rabbit import RabbitBroker

from shared.broker import envelope_message
from shared.contract import Topology
from shared.db import Connection
from shared.publishing import ConfirmedPublisher, Outgoing
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
        self._publisher = ConfirmedPublisher(broker, topology.intake_exchange)
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
            window = [
                Outgoing(row["id"], row["proposal_id"], row["routing_key"], partial(self._message, row))
                for row in rows
            ]
            if parked := await self._publisher.publish(window):
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
