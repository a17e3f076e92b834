"""Fault drills: the system under load, an injury, and the books checked afterwards.

The services run as processes and reach PostgreSQL and RabbitMQ through TcpProxy, so a drill can cut
either one. The load is a careful client: it retries each submission with the same Idempotency-Key until
it is acknowledged (202), and tries each proposal's verification until it is answered. Afterwards every
acknowledged submission and decision must be in the event store exactly once, the projection must equal a
replay of the store, and the outbox must be empty.
"""

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
from kipp_client import AsyncIntakeClient, Problem

from services.review.application import fold_history
from services.review.domain.decider import NOT_SUBMITTED
from services.review.eventstore.postgres import row_to_event
from shared.contract import Topology
from shared.db import connect
from tests.faults.proxy import TcpProxy
from tests.fixtures import demo_proposals
from tests.keys import Keys, bearer
from tests.processes import ServiceProcess, free_port, service_env

VERIFICATIONS = ("ProposalVerified", "VerificationFailed")

# What each drill injected and counted, printed at the end of the test run (see tests/conftest.py).
REPORT: list[str] = []


def through(url: str, proxy: TcpProxy) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{proxy.port}"
    return parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host).geturl()


@dataclass
class Drill:
    name: str
    database_url: str  # direct, for the checks
    keys: Keys
    db: TcpProxy
    broker: TcpProxy
    intake: ServiceProcess
    reviews: list[ServiceProcess]
    injected: list[str] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)  # proposal ids answered 202
    decided: list[str] = field(default_factory=list)  # proposal ids whose verification was answered 200
    failed_requests: int = 0
    answers: Counter[int] = field(default_factory=Counter)  # decision answers by status (0: no answer)

    @property
    def review(self) -> ServiceProcess:
        return self.reviews[0]

    def note(self, what: str) -> None:
        self.injected.append(what)
        print(f"[{self.name}] injecting: {what}")


@contextlib.asynccontextmanager
async def drill_system(
    name: str, database_url: str, amqp_url: str, topology: Topology, keys: Keys, reviews: int = 1
) -> AsyncIterator[Drill]:
    db_target, broker_target = urlsplit(database_url), urlsplit(amqp_url)
    db = TcpProxy(db_target.hostname or "127.0.0.1", db_target.port or 5432)
    broker = TcpProxy(broker_target.hostname or "127.0.0.1", broker_target.port or 5672)
    await db.start()
    await broker.start()
    env = service_env(through(database_url, db), through(amqp_url, broker), topology.prefix, free_port(), 0)
    review_processes = [ServiceProcess("review", env, free_port()) for _ in range(reviews)]
    intake = ServiceProcess("intake", env, int(env["KIPP_INTAKE_PORT"]))
    drill = Drill(name, database_url, keys, db, broker, intake, review_processes)
    try:
        began = time.monotonic()
        for process in [*review_processes, intake]:
            await process.start()
        print(f"[{name}] services up in {time.monotonic() - began:.1f} s")
        yield drill
    finally:
        began = time.monotonic()
        for process in [intake, *review_processes]:
            await process.shut_down()
        print(f"[{name}] services stopped in {time.monotonic() - began:.1f} s")
        await db.close()
        await broker.close()


async def run_load(
    drill: Drill,
    numbers: range = range(300),
    concurrency: int = 16,
    injury: Callable[[], Awaitable[None]] | None = None,
    injure_after: int = 100,
    decide: bool = True,
    within: float = 120,
) -> None:
    """Submits one proposal per number and verifies each acknowledged proposal not verified yet, while
    `injury` runs once `injure_after` submissions are acknowledged."""
    began = time.monotonic()
    deadline = began + within
    started = asyncio.Event()
    texts = demo_proposals()
    to_decide: asyncio.Queue[str] = asyncio.Queue()
    for proposal_id in drill.acknowledged:
        if proposal_id not in drill.decided:
            to_decide.put_nowait(proposal_id)

    async with (
        # The drill counts every failed try and tries again for as long as the injury lasts, so the
        # client gives up at once rather than after its own few retries.
        AsyncIntakeClient(drill.intake.url, drill.keys.submitter, timeout=15, retries=0) as intake,
        httpx.AsyncClient(
            base_url=drill.review.url, headers=bearer(drill.keys.reviewer), timeout=15
        ) as review,
    ):

        async def submit(number: int) -> None:
            key = f"{drill.name}-{number}"
            while time.monotonic() < deadline:
                try:
                    answer = await intake.submit(texts[number % len(texts)], idempotency_key=key)
                except (httpx.HTTPError, Problem):
                    answer = None
                if answer is not None and answer.http_status == 202:
                    proposal_id = answer.proposal_id
                    if proposal_id not in drill.acknowledged:
                        drill.acknowledged.append(proposal_id)
                        if decide:
                            to_decide.put_nowait(proposal_id)
                    if len(drill.acknowledged) >= injure_after:
                        started.set()
                    return
                drill.failed_requests += 1
                await asyncio.sleep(0.2)
            raise AssertionError(f"submission {number} was never acknowledged")

        async def decider() -> None:
            while True:
                proposal_id = await to_decide.get()
                try:
                    await verify(proposal_id)
                finally:
                    to_decide.task_done()

        async def verify(proposal_id: str) -> None:
            while time.monotonic() < deadline:
                try:
                    answer = await review.post(
                        f"/v1/proposals/{proposal_id}/verification",
                        json={"outcome": "passed", "checklist": {"drill": True}},
                        headers={"If-Match": '"1"'},
                    )
                except httpx.HTTPError:
                    answer = None
                drill.answers[answer.status_code if answer is not None else 0] += 1
                if answer is not None and answer.status_code == 200:
                    drill.decided.append(proposal_id)
                    return
                if answer is not None and answer.status_code in (409, 412):
                    return  # an earlier try committed although its answer was lost: not acknowledged
                if answer is None or answer.status_code >= 500:
                    drill.failed_requests += 1
                await asyncio.sleep(0.2)  # 404: not recorded yet; 5xx or no answer: try again
            raise AssertionError(f"verification of {proposal_id} was never answered")

        async def injure() -> None:
            if injury is not None:
                await started.wait()
                await injury()

        semaphore = asyncio.Semaphore(concurrency)

        async def limited(number: int) -> None:
            async with semaphore:
                await submit(number)

        deciders = [asyncio.create_task(decider()) for _ in range(concurrency)]
        try:
            await asyncio.gather(injure(), *(limited(n) for n in numbers))
            await asyncio.wait_for(to_decide.join(), max(1.0, deadline - time.monotonic()))
            print(
                f"[{drill.name}] load of {len(numbers)} submissions done in {time.monotonic() - began:.1f} s"
            )
        finally:
            for task in deciders:
                task.cancel()


async def settle_and_check(drill: Drill, within: float = 60) -> dict[str, int]:
    """Waits until the system is quiet, then checks the books. Returns the counts it printed."""
    conn = await connect(drill.database_url)
    try:
        began = time.monotonic()
        deadline = began + within
        acknowledged = [uuid.UUID(p) for p in drill.acknowledged]
        while True:
            recorded = await conn.fetchval(
                "SELECT count(DISTINCT stream_id) FROM review.events WHERE stream_id = ANY($1)", acknowledged
            )
            outbox = await conn.fetchval("SELECT count(*) FROM intake.outbox")
            lag = await conn.fetchval(
                "SELECT (SELECT coalesce(max(position), 0) FROM review.events) - position"
                " FROM review.projection_checkpoints WHERE name = 'proposal_status'"
            )
            if recorded == len(acknowledged) and outbox == 0 and lag == 0:
                break
            assert time.monotonic() < deadline, (
                f"not settled: {recorded=} of {len(acknowledged)}, {outbox=}, {lag=}"
            )
            await asyncio.sleep(0.2)
        print(f"[{drill.name}] settled in {time.monotonic() - began:.1f} s")

        rows = await conn.fetch("SELECT * FROM review.events ORDER BY position")
        events = [row_to_event(row) for row in rows]
        streams: dict[uuid.UUID, list[str]] = {}
        for event in events:
            streams.setdefault(event.stream_id, []).append(event.type)
        submissions = Counter(s for s, types in streams.items() for t in types if t == "ProposalSubmitted")
        verifications = Counter(s for s, types in streams.items() for t in types if t in VERIFICATIONS)
        assert all(n == 1 for n in submissions.values()), "a submission recorded twice"
        assert all(n == 1 for n in verifications.values()), "a verification recorded twice"
        lost_submissions = [p for p in acknowledged if submissions[p] != 1]
        lost_decisions = [p for p in drill.decided if verifications[uuid.UUID(p)] != 1]
        assert lost_submissions == [], f"acknowledged submissions lost: {lost_submissions}"
        assert lost_decisions == [], f"acknowledged decisions lost: {lost_decisions}"
        # The client tried each verification until it was answered, so every proposal has exactly one.
        assert sum(verifications.values()) == len(acknowledged), "a verification is missing"
        assert [e.position for e in events] == list(range(1, len(events) + 1)), "positions have a gap"

        projected = {
            row["proposal_id"]: (row["version"], {**row["state"], "proposal": row["body"]})
            for row in await conn.fetch(
                "SELECT proposal_id, version, state, body FROM review.proposal_status"
            )
        }
        by_stream: dict[uuid.UUID, list[object]] = {}
        for event in events:
            by_stream.setdefault(event.stream_id, []).append(event)
        for stream_id, history in by_stream.items():
            replay = fold_history(history)  # type: ignore[arg-type]
            assert replay.state is not NOT_SUBMITTED
            assert projected[stream_id] == (replay.version, replay.state.model_dump(mode="json")), stream_id
        assert len(projected) == len(by_stream)
        counts = {
            "acknowledged submissions": len(acknowledged),
            "acknowledged decisions": len(drill.decided),
            "recorded submissions": sum(submissions.values()),
            "recorded decisions": sum(verifications.values()),
            "recorded twice": 0,
            "lost": len(lost_submissions) + len(lost_decisions),
            "requests that failed and were retried": drill.failed_requests,
        }
        REPORT.append(f"{drill.name}: injected: {'; '.join(drill.injected) or 'nothing'}")
        REPORT.append(f"{drill.name}: " + ", ".join(f"{name} {n}" for name, n in counts.items()))
        REPORT.append(f"{drill.name}: decision answers by status: {dict(sorted(drill.answers.items()))}")
        print("\n".join(REPORT[-3:]))
        return counts
    finally:
        await conn.close()
