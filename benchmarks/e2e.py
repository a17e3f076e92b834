"""End to end and reads: both services as processes, proposals posted over HTTP by concurrent clients until
each is visible in review's status projection; then reads under concurrent clients."""

import asyncio
import contextlib
import os
import random
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aio_pika
import aiohttp
import asyncpg

from benchmarks.common import AMQP_URL, REOPENED_ROUNDS_DIR, Rate, percentile
from benchmarks.cpu import CpuMeter, pids_named
from shared.access import Role, create_key
from shared.broker import QueueDepths
from shared.db import create_pool
from shared.personal_data.master_key import ensure_master_key
from shared.signing import ensure_key_pair, ensure_private_key
from tests.fixtures import demo_proposals
from tests.processes import ServiceProcess, free_port, service_env

# How the load generator sees a submission through: review's projection has it, past its checkpoint.
PRODUCT_WATCH = (
    "SELECT e.position, e.stream_id FROM review.events AS e"
    " JOIN review.projection_checkpoints AS c ON c.name = 'proposal_status'"
    " WHERE e.position > $1 AND e.position <= c.position AND e.type = 'ProposalSubmitted'"
    " ORDER BY e.position"
)
PRODUCT_HEAD = "SELECT coalesce(max(position), 0) FROM review.events"


@dataclass(frozen=True)
class Pipeline:
    """What the load generator needs of a pipeline under test, the product or the reference: where to post,
    as whom, and how to see in its database that a submission went all the way through."""

    urls: list[str]  # the intake processes, the clients spread over them
    headers: dict[str, str]
    pool: asyncpg.Pool
    watch: str = PRODUCT_WATCH  # (position, stream_id) of submissions projected after position $1
    head: str = PRODUCT_HEAD


@dataclass
class RunningSystem:
    intakes: list[ServiceProcess]
    reviews: list[ServiceProcess]
    submitter: str
    reviewer: str
    pool: asyncpg.Pool

    @property
    def intake(self) -> ServiceProcess:
        return self.intakes[0]

    @property
    def review(self) -> ServiceProcess:
        return self.reviews[0]

    def pipeline(self) -> Pipeline:
        return Pipeline(
            [intake.url for intake in self.intakes], {"Authorization": f"Bearer {self.submitter}"}, self.pool
        )


@contextlib.asynccontextmanager
async def running_system(
    database_url: str, reviews: int = 1, intakes: int = 1
) -> AsyncIterator[RunningSystem]:
    """Both services as processes on one database and broker prefix: `reviews` review processes and
    `intakes` intake processes (each with its own port), as Compose scales them."""
    prefix = f"kippbench-{uuid.uuid4().hex[:8]}"
    env = service_env(database_url, AMQP_URL, prefix, free_port(), free_port())
    env["KIPP_ROUNDS_DIR"] = REOPENED_ROUNDS_DIR
    # The services log every message they handle: to files, so that the table is not lost among the
    # lines. They are kept only when the run fails.
    logs, failed = Path(tempfile.mkdtemp(prefix=f"{prefix}-logs-")), False
    # The services sign their messages: a key pair each, as `kipp migrate` makes them, in the logs' folder.
    for service in ("intake", "review"):
        private, public = logs / f"{service}-signing-key.pem", logs / f"{service}-signing-key.pub"
        ensure_key_pair(private, public)
        env[f"KIPP_{service.upper()}_SIGNING_KEY_FILE"] = str(private)
        env[f"KIPP_{service.upper()}_PUBLIC_KEY_FILE"] = str(public)
    ensure_private_key(logs / "log-signing-key.pem")
    # The innovator's fields are encrypted under a master key of this database's own (`kipp migrate` makes
    # it for a real one).
    ensure_master_key(logs / "master-key")
    env["KIPP_MASTER_KEY_FILE"] = str(logs / "master-key")
    env["KIPP_LOG_KEY_FILE"] = str(logs / "log-signing-key.pem")
    env["KIPP_CHECKPOINT_DIR"] = str(logs / "checkpoints")
    review_ports = [int(env["KIPP_REVIEW_PORT"])] + [free_port() for _ in range(reviews - 1)]
    intake_ports = [int(env["KIPP_INTAKE_PORT"])] + [free_port() for _ in range(intakes - 1)]
    review_processes = [
        ServiceProcess("review", env, port, logs / f"review-{n}.log") for n, port in enumerate(review_ports)
    ]
    intake_processes = [
        ServiceProcess("intake", env, port, logs / f"intake-{n}.log") for n, port in enumerate(intake_ports)
    ]
    pool = await create_pool(database_url, min_size=1, max_size=4)
    _, submitter = await create_key(pool, Role.SUBMITTER, "bench portal")
    _, reviewer = await create_key(pool, Role.REVIEWER, "bench reviewer")
    try:
        for process in (*review_processes, *intake_processes):
            await process.start()
        yield RunningSystem(intake_processes, review_processes, submitter, reviewer, pool)
    except BaseException:
        print(f"  the services' logs are kept in {logs}", flush=True)
        failed = True
        raise
    finally:
        for process in (*intake_processes, *review_processes):
            await process.shut_down()
        await pool.close()
        await _delete_broker_names(prefix)
        if not failed:
            shutil.rmtree(logs, ignore_errors=True)


async def _delete_broker_names(prefix: str) -> None:
    from shared.contract import Topology

    topology = Topology(prefix)
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        for queue in topology.all_queues():
            await channel.queue_delete(queue)
        for exchange in topology.all_exchanges():
            await channel.exchange_delete(exchange)


@dataclass(frozen=True)
class Submissions:
    count: int
    seconds: float  # from the first post to the last proposal visible in review
    freshness: list[float]  # per proposal, from its 202 to visible in review's projection

    @property
    def per_second(self) -> float:
        return self.count / self.seconds


async def submit_and_watch(
    system: Pipeline, count: int, clients: int = 32, rate: float | None = None
) -> Submissions:
    """Posts `count` proposals (at most `rate` a second, if given) and times each until it is visible."""
    acked: dict[uuid.UUID, float] = {}
    seen: dict[uuid.UUID, float] = {}
    texts = demo_proposals()
    numbers = iter(range(count))
    began = time.perf_counter()
    posting = True

    async def client(http: aiohttp.ClientSession) -> None:
        for number in numbers:
            if rate is not None:
                await asyncio.sleep(max(0.0, began + number / rate - time.perf_counter()))
            async with http.post("/v1/proposals", json=texts[number % len(texts)]) as answer:
                body = await answer.json()
                if answer.status != 202:
                    raise RuntimeError(f"intake answered {answer.status}: {body}")
            acked[uuid.UUID(body["proposal_id"])] = time.perf_counter()

    async def watch(after: int) -> None:
        # Follows the projection's checkpoint through the event store's global order: each poll reads only
        # the submissions projected since the last one. (Asking about every pending proposal by id, as
        # this did before, cost the database and this process more, the more the system fell behind.)
        while posting or len(seen) < len(acked):
            rows = await system.pool.fetch(system.watch, after)
            now = time.perf_counter()
            for row in rows:
                seen.setdefault(row["stream_id"], now)
            if rows:
                after = rows[-1]["position"]
            await asyncio.sleep(0.005)

    sessions = [_client(url, system.headers, clients) for url in system.urls]
    async with contextlib.AsyncExitStack() as stack:
        https = [await stack.enter_async_context(session) for session in sessions]
        head = await system.pool.fetchval(system.head)
        watcher = asyncio.create_task(watch(after=head))
        await asyncio.gather(*(client(https[n % len(https)]) for n in range(clients)))
        posting = False
        await asyncio.wait_for(watcher, 120)
    last_seen = max(seen.values())
    # A proposal can be seen projected before its 202 has reached this process: its freshness is 0.
    return Submissions(count, last_seen - began, [max(0.0, seen[p] - acked[p]) for p in acked])


async def raw_publish(count: int = 10_000, window: int = 100) -> Rate:
    """aio-pika publishing persistent messages with confirms, `window` at a time, to a quorum queue."""
    name = f"kippbench-raw-{uuid.uuid4().hex[:8]}"
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        queue = await channel.declare_queue(name, durable=True, arguments={"x-queue-type": "quorum"})
        body = b'{"event_type": "proposal.submitted", "data": {"title": "' + b"x" * 2000 + b'"}}'
        latencies: list[float] = []
        began = time.perf_counter()
        for start in range(0, count, window):
            sent = time.perf_counter()
            await asyncio.gather(
                *(
                    channel.default_exchange.publish(
                        aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                        routing_key=name,
                    )
                    for _ in range(min(window, count - start))
                )
            )
            latencies.append(time.perf_counter() - sent)
        seconds = time.perf_counter() - began
        await queue.delete(if_unused=False, if_empty=False)
    return Rate(count, seconds, latencies)


async def reads(
    system: RunningSystem,
    path_for: list[str],
    seconds: float = 5.0,
    clients: int = 32,
    url: str | None = None,
) -> Rate:
    """`clients` clients each GETting a random path of `path_for` for `seconds` (from review, or `url`)."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    headers = {"Authorization": f"Bearer {system.reviewer}"}
    async with _client(url or system.review.url, headers, clients) as http:

        async def client() -> None:
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                async with http.get(random.choice(path_for)) as answer:
                    await answer.read()
                latencies.append(time.perf_counter() - began)
                if answer.status != 200:
                    raise RuntimeError(f"review answered {answer.status}")

        began = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        total = time.perf_counter() - began
    return Rate(len(latencies), total, latencies)


async def quiesce(system: RunningSystem, within: float = 120) -> bool:
    """Waits until the system has finished the work the last load left behind (every follower caught up,
    status changes published and followed), so the next measurement does not share the machine with it
    and the CPU it cost is counted with the load that caused it. False if it had not within `within`."""
    prefix = system.intake.env["KIPP_PREFIX"]
    depths = QueueDepths(AMQP_URL)
    deadline = time.perf_counter() + within
    try:
        while time.perf_counter() < deadline:
            # Events some follower of review's has not handled yet (the status list, the status changes
            # to publish, the Merkle tree, the resemblances), outbox rows not yet relayed, and
            # announcements not yet followed into intake's view (a passive declare counts only messages
            # not yet delivered).
            behind = await system.pool.fetchval(
                "SELECT (SELECT coalesce(max(position), 0) FROM review.events)"
                " - (SELECT min(position) FROM review.projection_checkpoints)"
                " + (SELECT count(*) FROM intake.outbox)"
                " + (SELECT count(*) FROM intake.proposals AS i JOIN review.proposal_status AS r"
                "    USING (proposal_id) WHERE i.review_version < r.version)"
            )
            queued = await depths.depths(f"{prefix}.intake.review-events", f"{prefix}.review.intake-events")
            if behind == 0 and not any(queued.values()):
                return True
            await asyncio.sleep(0.2)
    finally:
        await depths.close()
    return False


def _client(base_url: str, headers: dict[str, str], connections: int) -> aiohttp.ClientSession:
    # aiohttp, not httpx: measured here, httpx could not drive more than ~300 requests/s from one process,
    # so it measured itself rather than the services.
    connector = aiohttp.TCPConnector(limit=connections)
    return aiohttp.ClientSession(
        base_url, headers=headers, connector=connector, timeout=aiohttp.ClientTimeout(60)
    )


def cpu_meter(system: RunningSystem) -> CpuMeter:
    """Every process the end-to-end run keeps busy on this machine, in groups."""

    def own(services: list[ServiceProcess]) -> list[int]:
        return [service.process.pid for service in services if service.process is not None]

    return CpuMeter(
        {
            "intake": lambda: own(system.intakes),
            "review": lambda: own(system.reviews),
            "load": lambda: [os.getpid()],  # the 32 clients and the watcher
            "postgresql": lambda: pids_named("postgres"),
            "rabbitmq": lambda: pids_named("beam.smp"),
        }
    )


def freshness_ms(submissions: Submissions, fraction: float) -> float:
    return percentile(submissions.freshness, fraction) * 1000
