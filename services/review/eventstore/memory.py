"""An in-memory event store for unit tests of the application layer. Same contract as PostgreSQL's."""

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from uuid import UUID

from services.review.eventstore.base import (
    AppendResult,
    ConcurrencyError,
    NewEvent,
    RecordedEvent,
    UnstorableEvent,
    refuse_malformed_append,
    unsealed_event,
)
from services.review.eventstore.chain import GENESIS_HASH, sealed


class InMemoryEventStore:
    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._log: list[RecordedEvent] = []
        self._streams: dict[UUID, list[RecordedEvent]] = {}
        self._ids: set[UUID] = set()
        self._clock = clock

    async def append(
        self, stream_id: UUID, expected_version: int, events: Sequence[NewEvent]
    ) -> AppendResult:
        refuse_malformed_append(events)
        stream = self._streams.setdefault(stream_id, [])
        if any(event.event_id in self._ids for event in events):
            return AppendResult(stream_version=-1, last_position=-1, recorded=False)
        if len(stream) != expected_version:
            raise ConcurrencyError(stream_id, expected_version, len(stream))
        recorded_at = self._clock()
        previous = self._log[-1].hash if self._log else GENESIS_HASH
        records = []
        for offset, event in enumerate(events, start=1):
            try:
                unsealed = unsealed_event(
                    event, stream_id, len(self._log) + offset, len(stream) + offset, recorded_at
                )
                record = sealed(previous, unsealed)
            except (ValueError, TypeError, RecursionError) as error:
                raise UnstorableEvent(f"event {event.event_id}: {error}") from error
            records.append(record)
            previous = record.hash
        for record in records:  # all sealed, or nothing appended
            self._log.append(record)
            stream.append(record)
            self._ids.add(record.event_id)
        return AppendResult(stream_version=len(stream), last_position=len(self._log))

    async def read_stream(self, stream_id: UUID, until: datetime | None = None) -> list[RecordedEvent]:
        stream = self._streams.get(stream_id, [])
        return [event for event in stream if until is None or event.recorded_at <= until]

    async def read_all(self, after: int = 0, limit: int | None = None) -> AsyncIterator[RecordedEvent]:
        end = len(self._log) if limit is None else after + limit
        for event in self._log[after:end]:
            yield event

    async def head_position(self) -> int:
        return len(self._log)
