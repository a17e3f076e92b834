"""The background worker's rounds: a reader nobody waits on gathers the pokes of a few appends into one."""

import asyncio

from shared.worker import Worker


async def rounds_after_pokes(gather_seconds: float, pokes: int) -> int:
    rounds = 0
    ran = asyncio.Event()

    async def step() -> bool:
        nonlocal rounds
        rounds += 1
        ran.set()
        return False

    worker = Worker("test", step, poll_seconds=60, gather_seconds=gather_seconds)
    worker.start()
    await asyncio.wait_for(ran.wait(), 10)  # its first round, at start
    rounds = 0
    ran.clear()
    for _ in range(pokes):
        worker.poke()
        await asyncio.sleep(0.02)
    await asyncio.wait_for(ran.wait(), 10)  # the round the pokes asked for, however slow the machine
    await asyncio.sleep(0.05)  # any round still to come
    await worker.stop()
    return rounds


def test_pokes_that_find_it_idle_within_the_gathering_time_make_one_round() -> None:
    assert asyncio.run(rounds_after_pokes(gather_seconds=1.0, pokes=5)) == 1


def test_without_gathering_a_poke_that_finds_it_idle_is_served_at_once() -> None:
    # Five pokes 20 ms apart, each round instant: more than one round (how many depends on when
    # the loop runs the worker, so only that they were not all gathered).
    assert asyncio.run(rounds_after_pokes(gather_seconds=0.0, pokes=5)) > 1
