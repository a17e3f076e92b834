"""Publishes `proposal.status_changed` for every recorded event, so intake (and anyone) can follow.

The event store is the outbox: this reader follows the global order from its own checkpoint, publishes
with publisher confirms, and moves the checkpoint only after the confirms, in one transaction that holds
the checkpoint row. A crash in between publishes the same announcements again, under the same message
ids (derived from the recorded event's id), so followers can tell a repeat; none is ever skipped.
"""

import asyncio
import uuid
from itertools import groupby

import asyncpg
from faststream.rabbit import RabbitBroker

from services.review.domain.lifecycle import status_after_stored
from services.review.eventstore.base import RecordedEvent
from services.review.eventstore.chain import timestamp_text
from services.review.eventstore.postgres import row_to_event
from shared.broker import envelope_message, exchange, publish_confirmed
from shared.contract import PROPOSAL_STATUS_CHANGED, Envelope, EnvelopeMetadata, Topology
from shared.worker import Worker

NAME = "status_changed"
# The events after the checkpoint without the proposal's text: an announcement does not carry it.
_WITHOUT_TEXT = (
    "SELECT position, stream_id, version, event_id, type, schema_version, data - 'proposal' AS data,"
    " metadata, recorded_at, hash FROM review.events WHERE position > $1 ORDER BY position LIMIT $2"
)
WINDOW = 100
_ANNOUNCEMENTS = uuid.UUID("6f1c3f0e-59a4-4f0b-9a43-7d5a0c2b8e11")

# What a follower learns about each decision besides the status (all of it public to the submitter).
_DETAILS = ("reasons", "notes", "sinovik_reference", "stage", "outcome", "reason")


def status_changed(event: RecordedEvent) -> Envelope:
    status = status_after_stored(event.type, event.data)
    details = {key: event.data[key] for key in _DETAILS if key in event.data}
    return Envelope(
        event_id=uuid.uuid5(_ANNOUNCEMENTS, str(event.event_id)),
        event_type=PROPOSAL_STATUS_CHANGED,
        schema_version=1,
        proposal_id=event.stream_id,
        occurred_at=event.recorded_at,
        data={
            "status": status.value,
            "version": event.version,
            "position": event.position,
            "cause": event.type,
            "decided_at": event.data.get("at", timestamp_text(event.recorded_at)),
            **details,
        },
        metadata=EnvelopeMetadata(
            correlation_id=str(event.metadata.get("correlation_id") or event.event_id),
            causation_id=str(event.event_id),
            actor=event.metadata.get("actor") or {},
            source="review",
        ),
    )


class StatusChangePublisher:
    def __init__(self, pool: asyncpg.Pool, broker: RabbitBroker, topology: Topology) -> None:
        self._pool = pool
        self._broker = broker
        self._exchange = exchange(topology.review_exchange)
        self.worker = Worker("status-change-publisher", self._publish_window)

    async def publish_once(self) -> int:
        """Announces up to one window of events after the checkpoint. Returns how many."""
        async with self._pool.acquire() as conn, conn.transaction():
            checkpoint = await conn.fetchval(
                "SELECT position FROM review.projection_checkpoints WHERE name = $1 FOR UPDATE", NAME
            )
            rows = await conn.fetch(_WITHOUT_TEXT, checkpoint, WINDOW)
            if not rows:
                return 0
            events = [row_to_event(row) for row in rows]
            by_proposal = groupby(
                sorted(events, key=lambda e: (e.stream_id, e.position)), lambda e: e.stream_id
            )
            await asyncio.gather(*(self._publish_in_order(list(group)) for _, group in by_proposal))
            await conn.execute(
                "UPDATE review.projection_checkpoints SET position = $2 WHERE name = $1",
                NAME,
                events[-1].position,
            )
            return len(events)

    async def _publish_window(self) -> bool:
        return await self.publish_once() == WINDOW

    async def _publish_in_order(self, events: list[RecordedEvent]) -> None:
        for event in events:
            envelope = status_changed(event)
            message = envelope_message(
                envelope.model_dump_json().encode(),
                event_id=str(envelope.event_id),
                event_type=envelope.event_type,
                correlation_id=envelope.metadata.correlation_id,
            )
            await publish_confirmed(self._broker, message, self._exchange, PROPOSAL_STATUS_CHANGED)
