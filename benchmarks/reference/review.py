"""The reference's review: a consumer whose messages are appended in batches under the table lock with a
SHA-256 hash chain; a status projection and a status publisher, each following the log from its own
checkpoint row (locked for the pass) in one transaction with what it does."""

import asyncio
import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import aio_pika
import asyncpg

from benchmarks.reference.plumbing import QUORUM, Loop, Names, declare, persistent

MAX_BATCH = 500
POOL = 4  # the projection and the status publisher (the writer has a connection of its own)
PROJECTION_BATCH = 1000
PUBLISH_WINDOW = 100
STATUS_AFTER = {"ProposalSubmitted": "submitted"}
ANNOUNCEMENTS = uuid.UUID("6f1c3f0e-59a4-4f0b-9a43-7d5a0c2b8e11")

_INSERT = (
    "INSERT INTO ref_review.events"
    " (position, stream_id, version, event_id, type, data, metadata, recorded_at, hash)"
    " SELECT p, s, v, i, t, d::jsonb, m::jsonb, r, h FROM unnest($1::bigint[], $2::uuid[], $3::int[],"
    " $4::uuid[], $5::text[], $6::text[], $7::text[], $8::timestamptz[], $9::bytea[]) AS u(p, s, v, i, t, d,"
    " m, r, h)"
)
_PROJECT = (
    "INSERT INTO ref_review.proposal_status (proposal_id, status, version, last_position, body)"
    " SELECT u.s, u.status, u.v, u.p, e.data -> 'proposal'"
    " FROM unnest($1::uuid[], $2::text[], $3::int[], $4::bigint[]) AS u(s, status, v, p)"
    " JOIN ref_review.events AS e ON e.position = u.p"
    " ON CONFLICT (proposal_id) DO UPDATE SET status = excluded.status, version = excluded.version,"
    " last_position = excluded.last_position, body = excluded.body"
)


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class Review:
    def __init__(self, database_url: str, amqp_url: str, names: Names) -> None:
        self.database_url, self.amqp_url, self.names = database_url, amqp_url, names
        self.waiting: list[aio_pika.abc.AbstractIncomingMessage] = []
        self.writer = Loop(self.append_waiting)
        self.projection = Loop(self.project_once)
        self.publisher = Loop(self.publish_once)

    async def start(self) -> None:
        self.pool = await asyncpg.create_pool(self.database_url, min_size=2, max_size=POOL)
        self.writer_connection = await asyncpg.connect(self.database_url)
        self.connection = await aio_pika.connect_robust(self.amqp_url)
        publishing = await self.connection.channel(publisher_confirms=True)
        await declare(publishing, self.names)
        self.exchange = await publishing.get_exchange(self.names.review_exchange)
        consuming = await self.connection.channel()
        await consuming.set_qos(prefetch_count=64)
        queue = await consuming.declare_queue(self.names.review_queue, durable=True, arguments=QUORUM)
        for loop in (self.writer, self.projection, self.publisher):
            loop.start()
        await queue.consume(self.take)

    async def take(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        self.waiting.append(message)
        self.writer.poke()

    async def append_waiting(self) -> bool:
        batch, self.waiting = self.waiting[:MAX_BATCH], self.waiting[MAX_BATCH:]
        if not batch:
            return False
        conn = self.writer_connection
        recorded_at = datetime.now(UTC)
        at_text = recorded_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        columns: list[list[Any]] = [[] for _ in range(9)]
        async with conn.transaction():
            await conn.execute("LOCK TABLE ref_review.events IN EXCLUSIVE MODE")
            head = await conn.fetchrow(
                "SELECT position, hash FROM ref_review.events ORDER BY position DESC LIMIT 1"
            )
            position, previous = (head["position"], bytes(head["hash"])) if head else (0, bytes(32))
            for message in batch:
                envelope = json.loads(message.body)
                position += 1
                content = {
                    "position": position,
                    "stream_id": envelope["proposal_id"],
                    "version": 1,
                    "event_id": envelope["event_id"],
                    "type": "ProposalSubmitted",
                    "data": {"at": envelope["occurred_at"], "proposal": envelope["data"]},
                    "metadata": envelope["metadata"],
                    "recorded_at": at_text,
                }
                previous = hashlib.sha256(previous + canonical(content)).digest()
                values = (
                    position,
                    uuid.UUID(envelope["proposal_id"]),
                    1,
                    uuid.UUID(envelope["event_id"]),
                    "ProposalSubmitted",
                    json.dumps(content["data"]),
                    json.dumps(content["metadata"]),
                    recorded_at,
                    previous,
                )
                for column, value in zip(columns, values, strict=True):
                    column.append(value)
            await conn.execute(_INSERT, *columns)
        for message in batch:
            await message.ack()
        self.projection.poke()
        self.publisher.poke()
        return bool(self.waiting)

    async def project_once(self) -> bool:
        async with self.pool.acquire() as conn, conn.transaction():
            checkpoint = await conn.fetchval(
                "SELECT position FROM ref_review.checkpoints WHERE name = 'proposal_status' FOR UPDATE"
            )
            rows = await conn.fetch(
                "SELECT position, stream_id, version, type FROM ref_review.events WHERE position > $1"
                " ORDER BY position LIMIT $2",
                checkpoint,
                PROJECTION_BATCH,
            )
            if not rows:
                return False
            latest = {row["stream_id"]: row for row in rows}  # a stream's last event in the batch
            await conn.execute(
                _PROJECT,
                list(latest),
                [STATUS_AFTER[row["type"]] for row in latest.values()],
                [row["version"] for row in latest.values()],
                [row["position"] for row in latest.values()],
            )
            await conn.execute(
                "UPDATE ref_review.checkpoints SET position = $1 WHERE name = 'proposal_status'",
                rows[-1]["position"],
            )
            return len(rows) == PROJECTION_BATCH

    async def publish_once(self) -> bool:
        async with self.pool.acquire() as conn, conn.transaction():
            checkpoint = await conn.fetchval(
                "SELECT position FROM ref_review.checkpoints WHERE name = 'status_changed' FOR UPDATE"
            )
            rows = await conn.fetch(
                "SELECT position, stream_id, version, event_id, type, recorded_at FROM ref_review.events"
                " WHERE position > $1 ORDER BY position LIMIT $2",
                checkpoint,
                PUBLISH_WINDOW,
            )
            if not rows:
                return False
            await asyncio.gather(*(self._announce(row) for row in rows))
            await conn.execute(
                "UPDATE ref_review.checkpoints SET position = $1 WHERE name = 'status_changed'",
                rows[-1]["position"],
            )
            return len(rows) == PUBLISH_WINDOW

    async def _announce(self, row: asyncpg.Record) -> None:
        event_id = str(uuid.uuid5(ANNOUNCEMENTS, str(row["event_id"])))
        body = {
            "event_id": event_id,
            "event_type": "proposal.status_changed",
            "proposal_id": str(row["stream_id"]),
            "occurred_at": row["recorded_at"].isoformat(),
            "data": {
                "status": STATUS_AFTER[row["type"]],
                "version": row["version"],
                "position": row["position"],
            },
        }
        await self.exchange.publish(
            persistent(json.dumps(body).encode(), event_id), routing_key="proposal.status_changed"
        )
