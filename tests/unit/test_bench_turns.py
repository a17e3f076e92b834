"""The benchmark's comparison by turns: every side does all its operations, in turns that change which side
goes first, and each side is charged only the time of its own turns."""

import asyncio

from benchmarks.common import Operation, interleaved


def test_each_side_does_every_writers_operations_once_in_order() -> None:
    done: dict[str, list[tuple[int, int]]] = {"raw": [], "product": []}

    def side(name: str) -> Operation:
        async def operation(writer: int, number: int) -> None:
            done[name].append((writer, number))

        return operation

    rates = asyncio.run(interleaved({name: side(name) for name in done}, writers=3, per_writer=20, turns=4))

    for name in done:
        assert rates[name].count == 60
        assert len(rates[name].latencies) == 60
        for writer in range(3):
            assert [number for w, number in done[name] if w == writer] == list(range(20))


def test_the_first_side_changes_every_turn_and_settle_ends_each_of_its_turns() -> None:
    order: list[str] = []

    def side(name: str) -> Operation:
        async def operation(writer: int, number: int) -> None:
            if number % 5 == 0:  # the first operation of a turn of five
                order.append(name)

        return operation

    async def settle() -> None:
        order.append("settled b")

    asyncio.run(
        interleaved({n: side(n) for n in "abc"}, writers=1, per_writer=15, settle={"b": settle}, turns=3)
    )

    assert order == [
        *("a", "b", "settled b", "c"),
        *("b", "settled b", "c", "a"),
        *("c", "a", "b", "settled b"),
    ]


def test_a_side_is_charged_its_own_turns_and_not_the_others() -> None:
    async def slow(writer: int, number: int) -> None:
        await asyncio.sleep(0.05)

    async def instant(writer: int, number: int) -> None:
        pass

    rates = asyncio.run(interleaved({"slow": slow, "instant": instant}, writers=2, per_writer=10, turns=5))

    # Ten sleeps of 50 ms per writer, the two writers side by side: at least 0.5 s for the slow side. The
    # instant side never waits: charged the slow side's turns, it would show at least as much (a margin
    # of a quarter of a second for a busy machine's pauses).
    assert rates["slow"].seconds >= 0.5
    assert rates["instant"].seconds < rates["slow"].seconds / 2
