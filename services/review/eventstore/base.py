"""The event store contract, written once: an in-memory and a PostgreSQL implementation both keep it."""

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, Protocol
from uuid import UUID

from shared.canonical import canonical_json


@dataclass(frozen=True)
class NewEvent:
    event_id: UUID
    type: str
    schema_version: int
    data: dict[str, Any]
    metadata: dict[str, Any]

    @cached_property
    def encoded(self) -> tuple[bytes, bytes]:
        """The RFC 8785 bytes of `data` and of `metadata` (see RecordedEvent.encoded). The PostgreSQL store
        asks for them in the appending caller's turn, so that its single writer, which everyone waits on,
        only chains and writes: the encoding of many appends overlaps the database's work on a batch."""
        return canonical_json(self.data), canonical_json(self.metadata)


@dataclass(frozen=True)
class RecordedEvent:
    position: int  # global, gap-free, from 1
    stream_id: UUID
    version: int  # in the stream, from 1
    event_id: UUID
    type: str
    schema_version: int
    data: dict[str, Any]
    metadata: dict[str, Any]
    recorded_at: datetime
    hash: bytes  # chains this event to the one before it (see chain.py)

    @cached_property
    def encoded(self) -> tuple[bytes, bytes]:
        """The RFC 8785 bytes of `data` and of `metadata`, encoded once however many times they are hashed:
        the chain's content and the transparency log's leaf are both made from them."""
        return canonical_json(self.data), canonical_json(self.metadata)


def unsealed_event(
    new: NewEvent, stream_id: UUID, position: int, version: int, recorded_at: datetime
) -> RecordedEvent:
    """`new` as it is recorded at `position`, its hash not yet set, carrying the encoding `new` already has:
    what cached_property would store, so the same bytes are not made twice."""
    event = RecordedEvent(
        position=position,
        stream_id=stream_id,
        version=version,
        event_id=new.event_id,
        type=new.type,
        schema_version=new.schema_version,
        data=new.data,
        metadata=new.metadata,
        recorded_at=recorded_at,
        hash=b"",
    )
    event.__dict__["encoded"] = new.encoded
    return event


@dataclass(frozen=True)
class AppendResult:
    """Where the events landed. `recorded` is False when the same event ids were already stored; the
    positions are then not looked up (-1)."""

    stream_version: int
    last_position: int
    recorded: bool = True


class ConcurrencyError(Exception):
    """The stream moved on since the caller read it: expected version no longer matches."""

    def __init__(self, stream_id: UUID, expected: int, actual: int) -> None:
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual
        super().__init__(f"stream {stream_id} is at version {actual}, not the expected {expected}")


class UnstorableEvent(ValueError):
    """An event whose content the store cannot record (its data or metadata has no canonical JSON form,
    such as an integer beyond what JSON numbers hold exactly). Only that append fails; no retry helps."""


def refuse_malformed_append(events: Sequence[NewEvent]) -> None:
    """Raises ValueError for an append no store can record: one without events, or one that carries an
    event id twice (it could be neither recorded once nor refused as a duplicate of what is stored)."""
    if not events:
        raise ValueError("an append needs at least one event")
    ids = [event.event_id for event in events]
    if len(set(ids)) != len(ids):
        raise ValueError("an append carries the same event id more than once")


class EventStore(Protocol):
    async def append(
        self, stream_id: UUID, expected_version: int, events: Sequence[NewEvent]
    ) -> AppendResult:
        """Append atomically after `expected_version` (0: a new stream). Idempotent by event id."""

    async def read_stream(self, stream_id: UUID, until: datetime | None = None) -> list[RecordedEvent]:
        """Every event of the stream in version order; with `until`, only those recorded by then."""

    def read_all(self, after: int = 0, limit: int | None = None) -> AsyncIterator[RecordedEvent]:
        """Events in global position order after `after`, never skipping one that commits late."""

    async def head_position(self) -> int:
        """The position of the last recorded event (0 when empty)."""
