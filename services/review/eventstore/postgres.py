"""The PostgreSQL event store.

Appends from every caller in this process go through one writer task, which takes the appends waiting
(up to half of the callers it serves: see half_of_the_callers) and writes them in one transaction
(`review.append_events`, or `review.append_one` when that is one event; migrations 0001, 0012 and 0013
say how appends are serialised). One transaction per batch instead of one per caller is what keeps
throughput up while positions stay gap-free and the hash chain stays linear: the same design as
EventStoreDB's single writer. A caller that finds the writer idle, with nothing waiting, writes its own
append the same way in its own turn (see PostgresEventStore.append).
The callers encode their events' content in their own turns; the writer only chains and writes.
"""

import asyncio
import contextlib
import functools
import hashlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from services.review.eventstore.base import (
    AppendResult,
    ConcurrencyError,
    NewEvent,
    RecordedEvent,
    UnstorableEvent,
    refuse_malformed_append,
    unsealed_event,
)
from services.review.eventstore.chain import GENESIS_HASH, canonical_content
from services.review.metrics import APPEND_SECONDS, EVENTS_APPENDED
from shared.db import Connection, JsonText

MAX_BATCH_EVENTS = 500
READ_PAGE = 1000
log = logging.getLogger(__name__)

# A batch's data and metadata go as text[] and are cast to jsonb[] by the server: the driver writes a jsonb[]
# as one array literal, every quote of every JSON text escaped, which the server then has to unescape
# (eight submissions: 144 µs of this process's CPU and 348 µs in all per call, against 34 and 159 µs as
# text[], measured alternately on one connection).
_APPEND_EVENTS = (
    "SELECT * FROM review.append_events($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
    " $11::text[]::jsonb[], $12::text[]::jsonb[], $13, $14)"
)
_APPEND_EVENT = "SELECT * FROM review.append_event(" + ", ".join(f"${n}" for n in range(1, 14)) + ")"
_APPEND_ONE = "SELECT review.append_one(" + ", ".join(f"${n}" for n in range(1, 14)) + ")"
_REFUSED_APPENDS = "SELECT * FROM review.refused_appends($1, $2, $3, $4)"
_POSITIONS_KEY = "events_pkey"  # the primary key that orders appends from several processes
_COLUMNS = "position, stream_id, version, event_id, type, schema_version, data, metadata, recorded_at, hash"


@dataclass
class _PendingAppend:
    stream_id: UUID
    expected_version: int
    events: Sequence[NewEvent]
    done: asyncio.Future[AppendResult] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


@dataclass(frozen=True)
class _Head:
    position: int
    hash: bytes
    recorded_at: datetime | None


def row_to_event(row: asyncpg.Record) -> RecordedEvent:
    return RecordedEvent(
        position=row["position"],
        stream_id=row["stream_id"],
        version=row["version"],
        event_id=row["event_id"],
        type=row["type"],
        schema_version=row["schema_version"],
        data=row["data"],
        metadata=row["metadata"],
        recorded_at=row["recorded_at"],
        hash=bytes(row["hash"]),
    )


class PostgresEventStore:
    def __init__(
        self,
        pool: asyncpg.Pool,
        on_append: Sequence[Callable[[], None]] = (),
        on_commit: Callable[[Sequence[RecordedEvent]], None] | None = None,
    ) -> None:
        """`on_append` callbacks run after every committed batch (to wake this process's readers);
        `on_commit` is handed the batch's events as committed, in position order (their `hash` left
        empty), for what is cheaper to make from them now than from the database later (the tree's
        leaves: tlog.RecentLeaves)."""
        self._pool = pool
        self._on_append = on_append
        self._on_commit = on_commit
        self._queue: asyncio.Queue[_PendingAppend] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._connection: PoolConnectionProxy | None = None  # the writer's own, kept between batches
        self._head: _Head | None = None  # our belief of the head; the database corrects it when stale
        # Whoever writes a batch holds the turn: the writer task, or a caller writing its own append.
        self._turn = asyncio.Lock()
        self._idle = False  # the writer task waits for appends, and none is waiting

    async def start(self) -> None:
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_forever(), name="event-store-writer")

    async def stop(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None
        async with self._turn:  # a caller writing its own append keeps the connection until it is done
            await self._drop_connection()

    async def append(
        self, stream_id: UUID, expected_version: int, events: Sequence[NewEvent]
    ) -> AppendResult:
        refuse_malformed_append(events)  # before it can share a batch with appends that are fine
        _encode_in_callers_turn(stream_id, events)
        await self.start()
        pending = _PendingAppend(stream_id, expected_version, events)
        with APPEND_SECONDS.time():
            if self._idle and self._queue.empty() and not self._turn.locked():
                # Nobody else is appending: write it now rather than hand it to the writer task and wait
                # for its answer (two turns of the event loop: 26-34 µs of a 310-360 µs append at one
                # writer, alternating runs). Callers arriving meanwhile queue for the writer as usual.
                await self._write_own(pending)
            else:
                self._queue.put_nowait(pending)
            return await pending.done

    async def read_stream(self, stream_id: UUID, until: datetime | None = None) -> list[RecordedEvent]:
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM review.events WHERE stream_id = $1"
            " AND ($2::timestamptz IS NULL OR recorded_at <= $2) ORDER BY version",
            stream_id,
            until,
        )
        return [row_to_event(row) for row in rows]

    async def read_all(self, after: int = 0, limit: int | None = None) -> AsyncIterator[RecordedEvent]:
        # Keyset pages, each its own short query: constant memory however long the history. Appends are
        # serialised (see the migration), so a page never has a hole that a late commit fills afterwards.
        remaining = limit
        while remaining is None or remaining > 0:
            page = READ_PAGE if remaining is None else min(READ_PAGE, remaining)
            rows = await self._pool.fetch(
                f"SELECT {_COLUMNS} FROM review.events WHERE position > $1 ORDER BY position LIMIT $2",
                after,
                page,
            )
            for row in rows:
                yield row_to_event(row)
            if len(rows) < page:
                return
            after = rows[-1]["position"]
            if remaining is not None:
                remaining -= len(rows)

    async def head_position(self) -> int:
        position = await self._pool.fetchval("SELECT coalesce(max(position), 0) FROM review.events")
        return int(position)

    # The writer ---------------------------------------------------------------------------------------

    async def _write_forever(self) -> None:
        deferred: list[_PendingAppend] = []
        singles = 0  # how many of the next batches take a single append (after a refused batch)
        written = 0  # appends in the batch written last
        while True:
            if not deferred:
                self._idle = True
                try:
                    deferred.append(await self._queue.get())
                finally:
                    self._idle = False
            while not self._queue.empty():
                deferred.append(self._queue.get_nowait())
            most = 1 if singles else half_of_the_callers(len(deferred), written)
            batch, deferred = _take_batch(deferred, most)
            singles = max(0, singles - 1)
            written = len(batch)
            async with self._turn:
                retry = await self._write_and_answer(batch)
            if retry:  # write each of them on its own, so only the refused one fails
                deferred, singles = [*retry, *deferred], len(retry)

    async def _write_own(self, pending: _PendingAppend) -> None:
        """A caller's own append, written in its turn (the writer task is idle and holds none)."""
        async with self._turn:
            try:
                await self._write_and_answer([pending])
            except asyncio.CancelledError:  # the caller was cancelled while the database wrote, or not
                self._head = None  # whether it was written is unknown; the head is read again next time
                await self._drop_connection()
                raise

    async def _write_and_answer(self, batch: list[_PendingAppend]) -> list[_PendingAppend]:
        """Writes the batch and answers its callers. When the database refused one append's content (a
        DataError) and the batch held others, it answers none of them and returns those to write again,
        each on its own."""
        try:
            await self._write(batch)
        except asyncpg.DataError as error:  # one append's content was refused: not the others' fault
            if len(batch) == 1:
                _resolve(batch[0], error)
                return []
            return [pending for pending in batch if not pending.done.done()]
        except Exception as error:  # the database is away or refused: every caller in the batch hears it
            self._head = None  # the outcome is unknown; re-read the head next time
            await self._drop_connection()
            for pending in batch:
                _resolve(pending, error)
            return []
        for callback in self._on_append:
            callback()
        return []

    async def _drop_connection(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            with contextlib.suppress(Exception):
                await self._pool.release(connection)

    async def _write(self, batch: list[_PendingAppend]) -> None:
        # The writer keeps one connection: returning it to the pool after every batch would cost a reset
        # round trip per append.
        if self._connection is None:
            self._connection = await self._pool.acquire()
        conn = self._connection
        while batch:
            if self._head is None:
                self._head = await _read_head(conn)
            batch, rows, results, events = _prepare(batch, self._head)
            if not batch:  # every append of it was unstorable, and has been answered
                return
            head = (self._head.position, self._head.hash)
            try:
                if len(rows) == 1:  # one append of one event, the usual case: scalar parameters
                    if await conn.fetchval(_APPEND_ONE, *head, *rows[0][1:]):
                        self._written(batch, rows, results, events)
                        return
                    # Not written: append_event says why (migration 0013), or writes it if it now can.
                    outcome = await conn.fetchrow(_APPEND_EVENT, *head, *rows[0][1:])
                else:
                    outcome = await conn.fetchrow(_APPEND_EVENTS, *head, *_columns(rows))
            except asyncpg.UniqueViolationError as refusal:
                if refusal.constraint_name == _POSITIONS_KEY:
                    # Another process wrote at the positions this batch was placed at (migration 0012):
                    # nothing was written; chain on the head as it is now.
                    self._head = await _read_head(conn)
                    continue
                # Nothing was written: an event already stored, or a version already taken. Which appends
                # those were is asked afterwards, so that appends that are not refused pay nothing for it.
                append_no, expected_version, _, stream_id, _, event_id = _columns(rows)[:6]
                outcome = await conn.fetchrow(
                    _REFUSED_APPENDS, append_no, stream_id, expected_version, event_id
                )
                assert outcome is not None
                batch = _answer_rejected(batch, outcome)
                continue
            assert outcome is not None
            if outcome["outcome"] == "ok":
                self._written(batch, rows, results, events)
                return
            if outcome["outcome"] == "stale_head":
                self._head = _Head(
                    outcome["head_position"], bytes(outcome["head_hash"]), outcome["head_recorded_at"]
                )
                continue
            batch = _answer_rejected(batch, outcome)

    def _written(
        self,
        batch: list[_PendingAppend],
        rows: list[tuple[Any, ...]],
        results: list[AppendResult],
        events: list[RecordedEvent],
    ) -> None:
        """The batch is committed: its last event is the head, and its callers are answered."""
        _, _, position, *_, recorded_at, chained = rows[-1]
        self._head = _Head(position, chained, recorded_at)
        for pending, result in zip(batch, results, strict=True):
            _resolve(pending, result)
            for new in pending.events:
                _appended_of_type(new.type).inc()
        self._committed(events)

    def _committed(self, events: list[RecordedEvent]) -> None:
        if self._on_commit is None:
            return
        try:
            self._on_commit(events)
        except Exception:  # what the hook makes is a shortcut; its readers make it themselves without
            log.exception("the event store's commit hook failed; its readers will read the events instead")


def _encode_in_callers_turn(stream_id: UUID, events: Sequence[NewEvent]) -> None:
    """Encodes the events' data and metadata now (NewEvent.encoded): while the writer waits on the
    database, the callers' turns encode the next batch. An event that has no RFC 8785 form is refused here,
    before it can share a batch."""
    for event in events:
        try:
            event.encoded  # noqa: B018 (made and kept by the cached property)
        except (ValueError, TypeError, RecursionError) as error:
            raise UnstorableEvent(f"append to stream {stream_id}: {error}") from error


def half_of_the_callers(waiting: int, written: int) -> int:
    """How many appends the next batch takes: half of the callers the store serves now, counted as those
    waiting plus those whose batch was just written (who are making their next append while this one is
    written). One half is written while the other half's callers make theirs: the database and this
    process work at once instead of in turn. Every caller waiting in one batch made them take turns: with
    16 writers of encrypted submissions, 7,970-8,080 appends/s in one batch against 9,380-9,420 in halves
    (alternating runs; small events lose a little to the extra commits: 16,500-17,100 against
    15,300-15,700)."""
    return max(1, (waiting + written + 1) // 2)


def _take_batch(
    waiting: list[_PendingAppend], most: int
) -> tuple[list[_PendingAppend], list[_PendingAppend]]:
    """Splits off what fits in one transaction, at most `most` appends; a second append to a stream, or a
    repeated event id, waits for the next batch so each append is checked against what the one before it
    wrote."""
    if len(waiting) == 1:  # one caller at a time, the usual case
        return waiting, []
    batch: list[_PendingAppend] = []
    later: list[_PendingAppend] = []
    streams: set[UUID] = set()
    event_ids: set[UUID] = set()
    size = 0
    for pending in waiting:
        ids = {event.event_id for event in pending.events}
        fits = size == 0 or (len(batch) < most and size + len(pending.events) <= MAX_BATCH_EVENTS)
        if fits and pending.stream_id not in streams and not ids & event_ids:
            batch.append(pending)
            streams.add(pending.stream_id)
            event_ids |= ids
            size += len(pending.events)
        else:
            later.append(pending)
    return batch, later


def _prepare(
    batch: list[_PendingAppend], head: _Head
) -> tuple[list[_PendingAppend], list[tuple[Any, ...]], list[AppendResult], list[RecordedEvent]]:
    """Positions, versions and chained hashes for the batch: a row per event, with the columns
    append_events takes (append_event takes a row but its first value, for its one event). An append whose
    content cannot be sealed is answered UnstorableEvent here and left out; the others keep the batch."""
    now = datetime.now(UTC)
    # Recorded times never go backwards along the positions, whatever the clocks of several processes say.
    recorded_at = max(now, head.recorded_at) if head.recorded_at else now
    kept: list[_PendingAppend] = []
    rows: list[tuple[Any, ...]] = []
    results = []
    events: list[RecordedEvent] = []
    previous, position = head.hash, head.position
    for pending in batch:
        try:
            sealed, previous_after = _sealed_rows(len(kept), pending, position, previous, recorded_at, events)
        except (ValueError, TypeError, RecursionError) as error:
            _resolve(pending, UnstorableEvent(f"append to stream {pending.stream_id}: {error}"))
            continue
        kept.append(pending)
        rows += sealed
        previous, position = previous_after, position + len(sealed)
        results.append(
            AppendResult(
                stream_version=pending.expected_version + len(pending.events), last_position=position
            )
        )
    return kept, rows, results, events


def _columns(rows: list[tuple[Any, ...]]) -> list[list[Any]]:
    """The rows as the column arrays append_events and refused_appends take."""
    return [list(column) for column in zip(*rows, strict=True)]


def _sealed_rows(
    number: int,
    pending: _PendingAppend,
    head_position: int,
    previous: bytes,
    recorded_at: datetime,
    events: list[RecordedEvent],
) -> tuple[list[tuple[Any, ...]], bytes]:
    """The rows of one append, chained after `previous`, and the hash of its last event; its events (their
    hash left empty) are added to `events` once all of them could be sealed."""
    rows = []
    sealed = []
    for offset, new in enumerate(pending.events, start=1):
        position = head_position + offset
        version = pending.expected_version + offset
        unsealed = unsealed_event(new, pending.stream_id, position, version, recorded_at)
        previous = hashlib.sha256(previous + canonical_content(unsealed)).digest()
        sealed.append(unsealed)
        data, metadata = unsealed.encoded
        rows.append(
            (
                number,
                pending.expected_version,
                position,
                pending.stream_id,
                version,
                new.event_id,
                new.type,
                new.schema_version,
                JsonText(data.decode()),  # written as encoded for the hash, not encoded again
                JsonText(metadata.decode()),
                recorded_at,
                previous,
            )
        )
    events.extend(sealed)
    return rows, previous


@functools.cache
def _appended_of_type(event_type: str) -> Any:
    """The appended-events counter of one event type (looking a labelled counter up costs more than
    counting with it; event types are a short fixed list)."""
    return EVENTS_APPENDED.labels(event_type)


def _resolve(pending: _PendingAppend, outcome: AppendResult | Exception) -> None:
    if pending.done.done():  # the caller gave up waiting (cancelled); the outcome stands regardless
        return
    if isinstance(outcome, Exception):
        pending.done.set_exception(outcome)
    else:
        pending.done.set_result(outcome)


def _answer_rejected(batch: list[_PendingAppend], outcome: asyncpg.Record) -> list[_PendingAppend]:
    """Answers the appends the database refused and returns the rest, to be written again."""
    duplicates = set(outcome["duplicate_appends"] or [])
    conflicts = dict(zip(outcome["conflicting_appends"] or [], outcome["actual_versions"] or [], strict=True))
    if not duplicates and not conflicts:  # refused, but for no reason it can name: never loop on it
        raise RuntimeError("the database refused a batch without naming a duplicate or a conflict")
    rest = []
    for number, pending in enumerate(batch):
        if number in duplicates:
            _resolve(pending, AppendResult(stream_version=-1, last_position=-1, recorded=False))
        elif number in conflicts:
            _resolve(
                pending, ConcurrencyError(pending.stream_id, pending.expected_version, conflicts[number])
            )
        else:
            rest.append(pending)
    return rest


async def _read_head(conn: Connection) -> _Head:
    row = await conn.fetchrow(
        "SELECT position, hash, recorded_at FROM review.events ORDER BY position DESC LIMIT 1"
    )
    if row is None:
        return _Head(0, GENESIS_HASH, None)
    return _Head(row["position"], bytes(row["hash"]), row["recorded_at"])
