"""One read of a long stream for several consumers: reading and decoding the history is most of what
walking it costs, so checks that each walk all of it share one read of it."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

# Items read ahead of the slowest consumer: bounds the memory, whatever the stream's length.
AHEAD = 1000

_END = object()


async def read_once(
    items: AsyncIterator[T], *consumers: Callable[[AsyncIterator[T]], Awaitable[Any]]
) -> tuple[Any, ...]:
    """Runs every consumer over `items`, read once, and returns their results in order. A consumer may stop
    early (its result is then ready early); the others go on being fed."""
    queues: list[asyncio.Queue[Any]] = [asyncio.Queue(AHEAD) for _ in consumers]
    finished = [False] * len(consumers)

    async def feed() -> None:
        async for item in items:
            for number, queue in enumerate(queues):
                if not finished[number]:
                    await queue.put(item)
            if all(finished):
                return
        for number, queue in enumerate(queues):
            if not finished[number]:
                await queue.put(_END)

    async def fed(queue: asyncio.Queue[Any]) -> AsyncIterator[T]:
        while (item := await queue.get()) is not _END:
            yield item

    async def consume(number: int) -> Any:
        try:
            return await consumers[number](fed(queues[number]))
        finally:
            finished[number] = True
            with contextlib.suppress(asyncio.QueueEmpty):  # unblock the feeder if it waits on this queue
                while True:
                    queues[number].get_nowait()

    feeding = asyncio.create_task(feed())
    consuming = [asyncio.create_task(consume(number)) for number in range(len(consumers))]
    try:
        await asyncio.gather(feeding, *consuming)  # the first failure, of the read or a consumer, is raised
    finally:
        for task in (feeding, *consuming):
            task.cancel()
        await asyncio.gather(feeding, *consuming, return_exceptions=True)
    return tuple(task.result() for task in consuming)
