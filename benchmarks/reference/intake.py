"""The reference's intake: POST → one INSERT of the proposal and its outbox row → 202; an outbox relay
publishing with confirms and deleting what was confirmed; a follower UPDATEing each proposal's status."""

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import aio_pika
import asyncpg

from benchmarks.reference.plumbing import QUORUM, Loop, Names, declare, persistent

RELAY_LOCK = 42_0001
POOL = 10  # connections: the 32 clients share them, as the product's intake pool (at most 20)
WINDOW = 100

_RECORD = (
    "WITH event AS (SELECT $1::text::jsonb AS envelope), proposal AS ("
    " INSERT INTO ref_intake.proposals (proposal_id, body, status, submitted_at, updated_at)"
    " SELECT $2, envelope -> 'data', 'submitted', $3, $3 FROM event)"
    " INSERT INTO ref_intake.outbox (event_id, proposal_id, routing_key, envelope)"
    " SELECT $4, $2, 'proposal.submitted', envelope FROM event"
)


class Intake:
    def __init__(self, database_url: str, amqp_url: str, names: Names) -> None:
        self.database_url, self.amqp_url, self.names = database_url, amqp_url, names
        self.relay = Loop(self.relay_once)

    async def start(self) -> None:
        self.pool = await asyncpg.create_pool(self.database_url, min_size=2, max_size=POOL)
        self.connection = await aio_pika.connect_robust(self.amqp_url)
        publishing = await self.connection.channel(publisher_confirms=True)
        await declare(publishing, self.names)
        self.exchange = await publishing.get_exchange(self.names.intake_exchange)
        following = await self.connection.channel()
        await following.set_qos(prefetch_count=32)
        queue = await following.declare_queue(self.names.intake_queue, durable=True, arguments=QUORUM)
        await queue.consume(self.follow)
        self.relay.start()

    async def submit(self, body: bytes) -> dict[str, Any]:
        posted = json.loads(body)
        proposal_id, event_id, now = uuid.uuid4(), uuid.uuid4(), datetime.now(UTC)
        envelope = {
            "event_id": str(event_id),
            "event_type": "proposal.submitted",
            "proposal_id": str(proposal_id),
            "occurred_at": now.isoformat(),
            "data": posted,
            "metadata": {"sequence": 1, "source": "reference"},
        }
        await self.pool.execute(_RECORD, json.dumps(envelope), proposal_id, now, event_id)
        self.relay.poke()
        return {"proposal_id": str(proposal_id), "status": "submitted", "submitted_at": now.isoformat()}

    async def relay_once(self) -> bool:
        async with self.pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", RELAY_LOCK):
                return False
            rows = await conn.fetch(
                "SELECT id, event_id, routing_key, envelope::text AS body FROM ref_intake.outbox"
                " ORDER BY id LIMIT $1",
                WINDOW,
            )
            if not rows:
                return False
            await asyncio.gather(
                *(
                    self.exchange.publish(
                        persistent(row["body"].encode(), str(row["event_id"])), routing_key=row["routing_key"]
                    )
                    for row in rows
                )
            )
            await conn.execute(
                "DELETE FROM ref_intake.outbox WHERE id = ANY($1)", [row["id"] for row in rows]
            )
            return len(rows) == WINDOW

    async def follow(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        change = json.loads(message.body)
        await self.pool.execute(
            "UPDATE ref_intake.proposals SET status = $2, review_version = $3, updated_at = $4"
            " WHERE proposal_id = $1 AND review_version < $3",
            uuid.UUID(change["proposal_id"]),
            change["data"]["status"],
            change["data"]["version"],
            datetime.fromisoformat(change["occurred_at"]),
        )
        await message.ack()
