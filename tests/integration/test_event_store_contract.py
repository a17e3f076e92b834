"""One contract, two event stores: the in-memory one and PostgreSQL must behave the same."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from services.review.eventstore.base import ConcurrencyError, EventStore, NewEvent, UnstorableEvent
from services.review.eventstore.chain import GENESIS_HASH, chain_hash
from services.review.eventstore.memory import InMemoryEventStore
from services.review.eventstore.postgres import PostgresEventStore


def new_event(type_: str = "ProposalSubmitted", **data: object) -> NewEvent:
    return NewEvent(uuid.uuid4(), type_, 1, {"n": 1, **data}, {"actor": {"name": "test"}})


@pytest.fixture(params=["memory", "postgres"])
async def store(request: pytest.FixtureRequest, pool: asyncpg.Pool) -> AsyncIterator[EventStore]:
    if request.param == "memory":
        yield InMemoryEventStore()
        return
    store = PostgresEventStore(pool)
    await store.start()
    try:
        yield store
    finally:
        await store.stop()


async def read_all(store: EventStore, after: int = 0, limit: int | None = None) -> list[int]:
    return [event.position async for event in store.read_all(after, limit)]


async def test_appends_to_a_new_stream_from_version_one(store: EventStore) -> None:
    stream = uuid.uuid4()
    result = await store.append(stream, 0, [new_event(), new_event("ProposalVerified")])
    assert (result.stream_version, result.last_position, result.recorded) == (2, 2, True)
    events = await store.read_stream(stream)
    assert [(e.version, e.position, e.type) for e in events] == [
        (1, 1, "ProposalSubmitted"),
        (2, 2, "ProposalVerified"),
    ]
    assert events[0].data == {"n": 1}
    assert events[0].metadata == {"actor": {"name": "test"}}


async def test_refuses_an_append_at_a_stale_version(store: EventStore) -> None:
    stream = uuid.uuid4()
    await store.append(stream, 0, [new_event()])
    await store.append(stream, 1, [new_event()])
    with pytest.raises(ConcurrencyError) as refused:
        await store.append(stream, 1, [new_event()])
    assert (refused.value.expected, refused.value.actual) == (1, 2)
    assert len(await store.read_stream(stream)) == 2


async def test_refuses_an_append_ahead_of_the_stream(store: EventStore) -> None:
    with pytest.raises(ConcurrencyError) as refused:
        await store.append(uuid.uuid4(), 3, [new_event()])
    assert refused.value.actual == 0
    assert await store.head_position() == 0


async def test_the_same_event_id_is_recorded_once(store: EventStore) -> None:
    stream = uuid.uuid4()
    event = new_event()
    await store.append(stream, 0, [event])
    again = await store.append(stream, 0, [event])
    assert again.recorded is False
    assert len(await store.read_stream(stream)) == 1
    assert await store.head_position() == 1


async def test_global_order_spans_streams_without_gaps(store: EventStore) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    await store.append(first, 0, [new_event()])
    await store.append(second, 0, [new_event(), new_event()])
    await store.append(first, 1, [new_event()])
    assert await read_all(store) == [1, 2, 3, 4]
    assert await read_all(store, after=2) == [3, 4]
    assert await read_all(store, after=1, limit=2) == [2, 3]
    assert [e.stream_id for e in await store.read_stream(first)] == [first, first]


async def test_each_event_is_chained_to_the_one_before(store: EventStore) -> None:
    for _ in range(3):
        await store.append(uuid.uuid4(), 0, [new_event(), new_event()])
    previous = GENESIS_HASH
    async for event in store.read_all():
        assert event.hash == chain_hash(previous, event)
        previous = event.hash


async def test_concurrent_appends_to_one_stream_have_exactly_one_winner(store: EventStore) -> None:
    stream = uuid.uuid4()
    await store.append(stream, 0, [new_event()])
    outcomes = await asyncio.gather(
        *(store.append(stream, 1, [new_event()]) for _ in range(10)), return_exceptions=True
    )
    assert sum(not isinstance(o, Exception) for o in outcomes) == 1
    assert all(isinstance(o, ConcurrencyError) for o in outcomes if isinstance(o, Exception))
    assert len(await store.read_stream(stream)) == 2


async def test_concurrent_appends_to_many_streams_all_land_in_one_gap_free_order(store: EventStore) -> None:
    streams = [uuid.uuid4() for _ in range(50)]
    await asyncio.gather(*(store.append(s, 0, [new_event(), new_event()]) for s in streams))
    assert await read_all(store) == list(range(1, 101))
    for stream in streams:
        assert [e.version for e in await store.read_stream(stream)] == [1, 2]


@pytest.mark.parametrize("with_one_ahead", [False, True], ids=["refused-by-constraints", "one-ahead-too"])
async def test_refused_appends_among_concurrent_ones_are_answered_alone(
    store: EventStore, with_one_ahead: bool
) -> None:
    # Arriving together, these share a batch in the PostgreSQL store: a redelivered event and an append at
    # a stale version (which the unique constraints refuse), and perhaps one ahead of its stream (which
    # append_batch looks up first), must each get their own answer while the rest land.
    seen, behind, fresh = uuid.uuid4(), uuid.uuid4(), [uuid.uuid4() for _ in range(8)]
    redelivered = new_event()
    await store.append(seen, 0, [redelivered])
    await store.append(behind, 0, [new_event()])
    ahead = [store.append(uuid.uuid4(), 5, [new_event()])] if with_one_ahead else []
    outcomes = await asyncio.gather(
        store.append(seen, 0, [redelivered]),
        store.append(behind, 0, [new_event()]),
        *(store.append(stream, 0, [new_event(), new_event()]) for stream in fresh),
        *ahead,
        return_exceptions=True,
    )
    duplicate, stale, *landed = outcomes[: 2 + len(fresh)]
    assert not isinstance(duplicate, BaseException)
    assert duplicate.recorded is False
    assert isinstance(stale, ConcurrencyError)
    assert (stale.expected, stale.actual) == (0, 1)
    assert all(not isinstance(o, BaseException) and o.stream_version == 2 for o in landed)
    if with_one_ahead:
        refused = outcomes[-1]
        assert isinstance(refused, ConcurrencyError)
        assert (refused.expected, refused.actual) == (5, 0)
    assert await read_all(store) == list(range(1, 2 + 2 * len(fresh) + 1))


async def test_an_append_carrying_one_event_id_twice_is_refused_before_it_is_batched(
    store: EventStore,
) -> None:
    twice = new_event()
    outcomes = await asyncio.gather(
        store.append(uuid.uuid4(), 0, [new_event()]),
        store.append(uuid.uuid4(), 0, [twice, twice]),
        store.append(uuid.uuid4(), 0, [new_event()]),
        return_exceptions=True,
    )
    assert isinstance(outcomes[1], ValueError)
    assert [o.recorded for o in (outcomes[0], outcomes[2]) if not isinstance(o, BaseException)] == [
        True,
        True,
    ]
    assert await read_all(store) == [1, 2]


async def test_reads_a_stream_as_it_was_at_a_moment(store: EventStore) -> None:
    stream = uuid.uuid4()
    await store.append(stream, 0, [new_event()])
    moment = datetime.now(UTC)
    await asyncio.sleep(0.01)
    await store.append(stream, 1, [new_event()])
    assert [e.version for e in await store.read_stream(stream, until=moment)] == [1]
    assert len(await store.read_stream(stream)) == 2


async def test_an_event_the_store_cannot_seal_fails_alone_and_its_batch_is_recorded(
    store: EventStore,
) -> None:
    # An integer no JSON number holds exactly has no canonical form to hash. Appended at once with others
    # (the PostgreSQL store writes whatever waits as one batch), only its own append fails.
    fine = [(uuid.uuid4(), new_event()) for _ in range(5)]
    unsealable = (uuid.uuid4(), new_event(n=2**64))
    outcomes = await asyncio.gather(
        *(store.append(stream, 0, [event]) for stream, event in [*fine[:2], unsealable, *fine[2:]]),
        return_exceptions=True,
    )
    assert isinstance(outcomes[2], UnstorableEvent)
    assert [outcome.recorded for i, outcome in enumerate(outcomes) if i != 2] == [True] * 5  # type: ignore[union-attr]
    assert await read_all(store) == [1, 2, 3, 4, 5]
    assert await store.read_stream(unsealable[0]) == []
