"""The console under load: a ledger of 5,000 proposals at various points of their lives, and 10 signed-in
reviewers (each its own session) loading the queue (unfiltered, filtered, a further page) and proposal pages
for a while, closed loop. The raw reference, in the same run: the same clients on the API's status list."""

import asyncio
import random
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from benchmarks.common import Rate
from benchmarks.e2e import RunningSystem, quiesce
from services.review.eventstore.base import NewEvent
from services.review.eventstore.postgres import PostgresEventStore
from shared.db import create_pool
from tests.fixtures import demo_proposals

PROPOSALS = 5_000
CLIENTS = 10
SECONDS = 10.0

SUBMITTER = {"id": str(uuid.uuid4()), "name": "bench portal", "role": "submitter"}
REVIEWER = {"id": str(uuid.uuid4()), "name": "bench reviewer", "role": "reviewer"}
CHECKLIST = {"documents": {"passed": True, "note": ""}}
# Where each proposal's life stops, in turn: the queue then has every common status in it.
LIVES: list[list[tuple[str, int, dict[str, Any]]]] = [
    [],
    [("ProposalVerified", 2, {"checklist": CHECKLIST, "notes": ""})],
    [("RevisionRequested", 1, {"reasons": ["ringkasan terlalu umum"], "notes": ""})],
    [("ProposalVerified", 2, {"checklist": CHECKLIST, "notes": ""}), ("ProposalValidated", 1, {"notes": ""})],
    [("VerificationFailed", 2, {"checklist": CHECKLIST, "notes": "SK belum ada"})],
]


def life_of(number: int) -> list[NewEvent]:
    at = (datetime(2023, 3, 1, tzinfo=UTC) + timedelta(seconds=number)).isoformat()
    proposal = demo_proposals()[number % 5]
    submitted = {"at": at, "proposal": {**proposal, "title": f"{proposal['title']} #{number}"}}
    events = [NewEvent(uuid.uuid4(), "ProposalSubmitted", 1, submitted, _metadata(SUBMITTER))]
    for kind, version, data in LIVES[number % len(LIVES)]:
        events.append(NewEvent(uuid.uuid4(), kind, version, {"at": at, **data}, _metadata(REVIEWER)))
    return events


def _metadata(actor: dict[str, str]) -> dict[str, Any]:
    return {"actor": actor, "correlation_id": "bench", "causation_id": None, "source": "bench"}


async def generate(url: str, proposals: int = PROPOSALS, writers: int = 32) -> list[str]:
    """Appends the proposals' events through the product's own append path; answers their ids."""
    pool = await create_pool(url, min_size=4, max_size=8)
    store = PostgresEventStore(pool)
    numbers = iter(range(proposals))
    ids = [str(uuid.uuid5(uuid.NAMESPACE_OID, f"console-{n}")) for n in range(proposals)]

    async def writer() -> None:
        for number in numbers:
            await store.append(uuid.UUID(ids[number]), 0, life_of(number))

    await asyncio.gather(*(writer() for _ in range(writers)))
    await store.stop()
    await pool.close()
    return ids


async def projected(system: RunningSystem, within: float = 600) -> None:
    """Waits until every follower of review's log (status list, announcements, Merkle tree, resemblances)
    has read every event (they start from none): the pages are measured on a ledger at rest, not while
    it is still indexing the 5,000 proposals just generated."""
    deadline = time.perf_counter() + within
    while time.perf_counter() < deadline:
        behind = await system.pool.fetchval(
            "SELECT (SELECT coalesce(max(position), 0) FROM review.events)"
            " - (SELECT min(position) FROM review.projection_checkpoints)"
        )
        if behind == 0:
            return
        await asyncio.sleep(0.5)
    raise RuntimeError("review's followers did not catch up")


_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def signed_in(base_url: str, key: str) -> aiohttp.ClientSession:
    """A browser-like client holding a console session (cookies kept for 127.0.0.1: unsafe=True)."""
    http = aiohttp.ClientSession(
        base_url, cookie_jar=aiohttp.CookieJar(unsafe=True), timeout=aiohttp.ClientTimeout(60)
    )
    async with http.get("/console/login") as form:
        found = _CSRF.search(await form.text())
    assert found, "no sign-in form"
    async with http.post(
        "/console/login", data={"csrf": found.group(1), "key": key}, allow_redirects=False
    ) as answer:
        if answer.status != 303:
            raise RuntimeError(f"sign-in answered {answer.status}")
    return http


async def load(
    clients: list[aiohttp.ClientSession], paths: dict[str, list[str]], seconds: float = SECONDS
) -> dict[str, Rate]:
    """Each client GETs a random kind of page (then a random page of that kind) until time is up."""
    latencies: dict[str, list[float]] = {kind: [] for kind in paths}
    deadline = time.perf_counter() + seconds

    async def client(http: aiohttp.ClientSession) -> None:
        while time.perf_counter() < deadline:
            kind = random.choice(list(paths))
            began = time.perf_counter()
            async with http.get(random.choice(paths[kind]), allow_redirects=False) as answer:
                await answer.read()
            latencies[kind].append(time.perf_counter() - began)
            if answer.status != 200:
                raise RuntimeError(f"review answered {answer.status} to a {kind} page")

    began = time.perf_counter()
    await asyncio.gather(*(client(http) for http in clients))
    total = time.perf_counter() - began
    return {kind: Rate(len(found), total, found) for kind, found in latencies.items()}


async def measure(system: RunningSystem, ids: list[str]) -> dict[str, Any]:
    await projected(system)
    await quiesce(system)  # the status changes of 5,000 proposals announced and followed before measuring
    base = system.review.url
    clients = [await signed_in(base, system.reviewer) for _ in range(CLIENTS)]
    agency = demo_proposals()[4]["agency"]["name"]
    try:
        first = await clients[0].get("/console/queue")
        page_two = re.search(r'cursor=([^"&]+)"', await first.text())
        assert page_two, "the queue has no second page"
        queue = [
            "/console/queue",
            "/console/queue?status=submitted",
            f"/console/queue?agency={agency}",
            "/console/queue?round=2023&status=verified",
            f"/console/queue?cursor={page_two.group(1)}",
        ]
        proposals = [f"/console/proposals/{i}" for i in ids]
        pages = await load(clients, {"queue": queue, "proposal": proposals})
        for http in clients:
            http.headers["Authorization"] = f"Bearer {system.reviewer}"
        reference = await load(
            clients, {"api_list": ["/v1/proposals?limit=50", "/v1/proposals?status=submitted&limit=50"]}
        )
    finally:
        for http in clients:
            await http.close()
    every = [*pages["queue"].latencies, *pages["proposal"].latencies]
    return {
        "proposals": len(ids),
        "clients": CLIENTS,
        "queue": pages["queue"].summary(),
        "proposal": pages["proposal"].summary(),
        "api_list_reference": reference["api_list"].summary(),
        "page_p99_ms": round(Rate(len(every), SECONDS, every).p99_ms, 1),
    }
