"""Publishes `proposal.status_changed` for every recorded event, so intake (and anyone) can follow.

The event store is the outbox: this reader follows the global order from its own checkpoint, publishes
with publisher confirms, and moves the checkpoint only after the confirms, in one transaction that holds
the checkpoint row. A crash in between publishes the same announcements again, under the same message
ids (derived from the recorded event's id), so followers can tell a repeat; none is ever skipped.

An erasure of personal data (PersonalDataErased) is not announced: it keeps the status, and what it
says concerns the person, not the proposal's progress; intake's own copy is erased by the same command.

Every announcement is signed with review's key. An event that cannot be announced (its announcement
cannot be built or encoded) is parked in review.parked_announcements with the reason, and the checkpoint
moves past it: the log is immutable, so an event that stalled the publisher would stall it forever.
"""

import logging
import uuid
from functools import partial

import asyncpg
from aio_pika import Message
from faststream.rabbit import RabbitBroker

from services.review.domain.decider import status_after_stored
from services.review.domain.events import PersonalDataErased
from services.review.eventstore.base import RecordedEvent
from services.review.eventstore.chain import timestamp_text
from services.review.eventstore.postgres import row_to_event
from services.review.eventstore.subscription import EVENT_COLUMNS_WITHOUT_TEXT, Subscription
from shared.access import Actor
from shared.broker import envelope_message
from shared.contract import (
    PROPOSAL_STATUS_CHANGED,
    Envelope,
    EnvelopeMetadata,
    Topology,
    valid_correlation_id,
)
from shared.db import Connection
from shared.publishing import ConfirmedPublisher, Outgoing
from shared.signing import MessageSigner
from shared.worker import Worker

log = logging.getLogger(__name__)

NAME = "status_changed"
WINDOW = 100
# The events after its checkpoint, without the proposal's text: an announcement does not carry it.
SUBSCRIPTION = Subscription(NAME, EVENT_COLUMNS_WITHOUT_TEXT, WINDOW)
_ANNOUNCEMENTS = uuid.UUID("6f1c3f0e-59a4-4f0b-9a43-7d5a0c2b8e11")

# Recorded, and not announced (see above).
_NOT_ANNOUNCED = {PersonalDataErased.type}

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
            correlation_id=_correlation_id(event),
            causation_id=str(event.event_id),
            actor=Actor.model_validate(event.metadata.get("actor")),
            source="review",
        ),
    )


def _correlation_id(event: RecordedEvent) -> str:
    """The event's correlation id, if it has the form the services accept (history recorded before they
    checked it may hold any text); the event's own id otherwise."""
    given = event.metadata.get("correlation_id")
    return given if isinstance(given, str) and valid_correlation_id(given) else str(event.event_id)


class StatusChangePublisher:
    def __init__(
        self, pool: asyncpg.Pool, broker: RabbitBroker, topology: Topology, signer: MessageSigner
    ) -> None:
        self._pool = pool
        self._publisher = ConfirmedPublisher(broker, topology.review_exchange)
        self._signer = signer
        self.worker = Worker("status-change-publisher", self._publish_window)

    async def publish_once(self) -> int:
        """Announces up to one window of events after the checkpoint. Returns how many."""
        async with self._pool.acquire() as conn:
            _, announced = await SUBSCRIPTION.process(conn, self._announce)
            return announced

    async def _publish_window(self) -> bool:
        return await self.publish_once() == WINDOW

    async def _announce(self, conn: Connection, rows: list[asyncpg.Record]) -> None:
        events = {row["position"]: row_to_event(row) for row in rows if row["type"] not in _NOT_ANNOUNCED}
        if not events:
            return
        window = [
            Outgoing(position, event.stream_id, PROPOSAL_STATUS_CHANGED, partial(self._message, event))
            for position, event in events.items()
        ]
        if parked := await self._publisher.publish(window):
            await _park(
                conn, {position: (events[position].event_id, reason) for position, reason in parked.items()}
            )

    def _message(self, event: RecordedEvent) -> Message:
        envelope = status_changed(event)
        return envelope_message(
            envelope.model_dump_json().encode(),
            event_id=str(envelope.event_id),
            event_type=envelope.event_type,
            correlation_id=envelope.metadata.correlation_id,
            signer=self._signer,
        )


async def _park(conn: Connection, parked: dict[int, tuple[uuid.UUID, str]]) -> None:
    await conn.executemany(
        "INSERT INTO review.parked_announcements (position, event_id, reason) VALUES ($1, $2, $3)"
        " ON CONFLICT (position) DO NOTHING",
        [(position, event_id, reason) for position, (event_id, reason) in parked.items()],
    )
    for position, (_, reason) in parked.items():
        log.error("announcement of the event at position %s parked: %s", position, reason)
