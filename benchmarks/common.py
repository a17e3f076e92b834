"""What every benchmark needs: a scratch database, timing, percentiles."""

import asyncio
import contextlib
import os
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

from shared.db import migrate

SERVER_URL = os.environ.get("KIPP_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_URL = os.environ.get("KIPP_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
# The benchmark submits the demo's KIPP 2023 proposals, and that round closed on 2023-05-06: the services it
# starts run with it reopened, by the round file `make run` uses too (KIPP_ROUNDS_DIR).
REOPENED_ROUNDS_DIR = str(Path(__file__).resolve().parent.parent / "examples" / "rounds")


def database_url(name: str) -> str:
    return urlsplit(SERVER_URL)._replace(path=f"/{name}").geturl()


@contextlib.asynccontextmanager
async def scratch_database(migrated: bool = True) -> AsyncIterator[str]:
    """A fresh database for one measurement, dropped afterwards."""
    name = f"kipp_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(SERVER_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = database_url(name)
        if migrated:
            await migrate(url)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def percentile(samples: list[float], fraction: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@dataclass(frozen=True)
class Rate:
    """Throughput and per-operation latency of one measured run."""

    count: int
    seconds: float
    latencies: list[float]

    @property
    def per_second(self) -> float:
        return self.count / self.seconds

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies, 0.50) * 1000

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies, 0.99) * 1000

    def summary(self) -> dict[str, float]:
        return {
            "per_s": round(self.per_second, 1),
            "p50_ms": round(self.p50_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
            "mean_ms": round(statistics.fmean(self.latencies) * 1000, 2) if self.latencies else 0.0,
        }


Operation = Callable[[int, int], Awaitable[None]]
"""One timed operation of a side, given (writer, number): number counts on across turns, from 0."""
Settle = Callable[[], Awaitable[None]]
"""What ends a side's turn inside its time (see `interleaved`)."""

# Turns per side in `interleaved`: each about a tenth of a second at one writer.
TURNS = 10


async def interleaved(
    sides: Mapping[str, Operation],
    writers: int,
    per_writer: int,
    settle: Mapping[str, Settle] | None = None,
    turns: int = TURNS,
) -> dict[str, Rate]:
    """Measures the sides by turns, `per_writer // turns` operations per writer at a time, the first side
    changing every turn; each side's rate is its operations over the sum of its turns. Measured one after
    the other, a side meets the machine as it is during its own second: on shared cores that moved a
    one-writer ratio by a third between rounds, more than most changes measured with it. By turns, a
    slower or faster stretch of the machine reaches every side alike. `settle` (per side, optional) ends
    each of that side's turns inside its time, e.g. waiting for a follower to catch up."""
    per_turn = per_writer // turns
    seconds = dict.fromkeys(sides, 0.0)
    latencies: dict[str, list[float]] = {name: [] for name in sides}
    names = list(sides)
    for turn in range(turns):
        first = turn % len(names)
        for name in names[first:] + names[:first]:
            numbers = range(turn * per_turn, (turn + 1) * per_turn)
            began = time.perf_counter()
            await asyncio.gather(
                *(_turn(sides[name], index, numbers, latencies[name]) for index in range(writers))
            )
            if settle and name in settle:
                await settle[name]()
            seconds[name] += time.perf_counter() - began
    return {name: Rate(writers * per_turn * turns, seconds[name], latencies[name]) for name in sides}


async def _turn(operation: Operation, writer: int, numbers: range, latencies: list[float]) -> None:
    for number in numbers:
        began = time.perf_counter()
        await operation(writer, number)
        latencies.append(time.perf_counter() - began)


class Clock:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


def peak_rss_mb(pid: int) -> float:
    """The process's own peak RSS (VmHWM: of its memory since exec, so not the forking parent's, which
    ru_maxrss would count); 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0.0
