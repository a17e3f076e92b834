"""One read of a stream for several consumers (what `kipp audit verify` walks the history with)."""

from collections.abc import AsyncIterator

import pytest

from shared.streams import AHEAD, read_once


async def numbers(
    count: int, read: list[int] | None = None, fail_at: int | None = None
) -> AsyncIterator[int]:
    for number in range(count):
        if number == fail_at:
            raise ConnectionError("the database went away")
        if read is not None:
            read.append(number)
        yield number


async def total(items: AsyncIterator[int]) -> int:
    return sum([item async for item in items])


async def first_above(limit: int, items: AsyncIterator[int]) -> int | None:
    async for item in items:
        if item > limit:
            return item
    return None


async def test_every_consumer_sees_every_item_of_one_read() -> None:
    read: list[int] = []
    count = 3 * AHEAD + 7  # more than the consumers are allowed to fall behind
    everything, again = await read_once(numbers(count, read), total, total)
    assert everything == again == sum(range(count))
    assert read == list(range(count))  # read once


async def test_a_consumer_that_stops_early_does_not_hold_back_the_others() -> None:
    count = 5 * AHEAD
    early, everything = await read_once(numbers(count), lambda items: first_above(3, items), total)
    assert early == 4
    assert everything == sum(range(count))


async def test_the_read_stops_once_no_consumer_wants_more() -> None:
    read: list[int] = []
    (found,) = await read_once(numbers(10 * AHEAD, read), lambda items: first_above(3, items))
    assert found == 4
    assert len(read) <= AHEAD + 10


async def test_a_failed_read_fails_the_whole_walk() -> None:
    with pytest.raises(ConnectionError):
        await read_once(numbers(3 * AHEAD, fail_at=2 * AHEAD), total, total)
