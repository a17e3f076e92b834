"""Running the same-hop reference (benchmarks/reference/) beside the product: its processes, its scratch
database and broker prefix, how the load generator sees its submissions through, and its CPU."""

import asyncio
import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from benchmarks.common import AMQP_URL, scratch_database
from benchmarks.cpu import CpuMeter, pids_named
from benchmarks.e2e import Pipeline
from benchmarks.reference.plumbing import Names, delete
from shared.broker import QueueDepths
from tests.processes import ServiceProcess, free_port

SCHEMA = Path(__file__).resolve().parent / "reference" / "schema.sql"
WATCH = (
    "SELECT e.position, e.stream_id FROM ref_review.events AS e"
    " JOIN ref_review.checkpoints AS c ON c.name = 'proposal_status'"
    " WHERE e.position > $1 AND e.position <= c.position ORDER BY e.position"
)
HEAD = "SELECT coalesce(max(position), 0) FROM ref_review.events"


class ReferenceProcess(ServiceProcess):
    """One process of the reference (`python -m benchmarks.reference <name>`), ready when /readyz says so."""

    def launch(self) -> None:
        env = {**self.env, "REF_PORT": str(self.port)}
        command = [sys.executable, "-m", "benchmarks.reference", self.name]
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)


@dataclass
class ReferenceSystem:
    intake: ReferenceProcess
    review: ReferenceProcess
    pool: asyncpg.Pool
    names: Names

    def pipeline(self) -> Pipeline:
        return Pipeline([self.intake.url], {}, self.pool, WATCH, HEAD)


def _env(database_url: str, prefix: str) -> dict[str, str]:
    return {**os.environ, "REF_DATABASE_URL": database_url, "REF_AMQP_URL": AMQP_URL, "REF_PREFIX": prefix}


@contextlib.asynccontextmanager
async def running_reference() -> AsyncIterator[ReferenceSystem]:
    names = Names(f"kippref-{uuid.uuid4().hex[:8]}")
    async with scratch_database(migrated=False) as url:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=4)
        assert pool is not None
        await pool.execute(SCHEMA.read_text(encoding="utf-8"))
        env = _env(url, names.prefix)
        review = ReferenceProcess("review", env, free_port())
        intake = ReferenceProcess("intake", env, free_port())
        try:
            await review.start()  # it declares the exchanges and queues the intake side publishes to
            await intake.start()
            yield ReferenceSystem(intake, review, pool, names)
        finally:
            await intake.shut_down()
            await review.shut_down()
            await pool.close()
            await delete(AMQP_URL, names)


@contextlib.asynccontextmanager
async def reads_reference(database_url: str, master_key_file: str) -> AsyncIterator[ReferenceProcess]:
    """The status GET as a bare ASGI function on the product's database: the same query, the same JSON
    (the innovator's fields decrypted with the database's master key, as review does)."""
    env = {**_env(database_url, "unused"), "KIPP_MASTER_KEY_FILE": master_key_file}
    reads = ReferenceProcess("reads", env, free_port())
    try:
        await reads.start()
        yield reads
    finally:
        await reads.shut_down()


async def quiesce(system: ReferenceSystem, within: float = 120) -> None:
    """Waits until the reference has finished what the last load left (as e2e.quiesce for the product)."""
    depths = QueueDepths(AMQP_URL)
    deadline = asyncio.get_running_loop().time() + within
    try:
        while asyncio.get_running_loop().time() < deadline:
            behind = await system.pool.fetchval(
                "SELECT (SELECT coalesce(max(position), 0) FROM ref_review.events)"
                " - (SELECT position FROM ref_review.checkpoints WHERE name = 'status_changed')"
                " + (SELECT count(*) FROM ref_intake.outbox)"
                " + (SELECT count(*) FROM ref_intake.proposals WHERE review_version = 0)"
            )
            queued = await depths.depths(system.names.intake_queue, system.names.review_queue)
            if behind == 0 and not any(queued.values()):
                return
            await asyncio.sleep(0.2)
    finally:
        await depths.close()


def cpu_meter(system: ReferenceSystem) -> CpuMeter:
    def own(process: ServiceProcess) -> list[int]:
        return [process.process.pid] if process.process is not None else []

    return CpuMeter(
        {
            "intake": lambda: own(system.intake),
            "review": lambda: own(system.review),
            "load": lambda: [os.getpid()],
            "postgresql": lambda: pids_named("postgres"),
            "rabbitmq": lambda: pids_named("beam.smp"),
        }
    )
