"""The transparency log: building the Merkle tree over a long history, signing checkpoints, serving
inclusion and consistency proofs from the database (through the functions the API calls, and over HTTP),
and what keeping the tree costs the appends it follows."""

import asyncio
import contextlib
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from benchmarks import appends
from benchmarks.common import Rate, Settle, interleaved, percentile, scratch_database
from benchmarks.e2e import quiesce, running_system
from services.review.eventstore.postgres import PostgresEventStore, row_to_event
from services.review.eventstore.subscription import EVENT_COLUMNS, Subscription
from services.review.tlog import (
    NAME,
    SUBSCRIPTION,
    RecentLeaves,
    TreeKeeper,
    extend_tree,
    leaf_of,
    prove_consistency,
    prove_inclusion,
    sign_checkpoint,
    tree_size,
)
from services.review.views import event_view
from shared.access import Role, create_key
from shared.db import create_pool
from shared.tlog.merkle import leaf_hash
from shared.tlog.note import NoteSigner

PROOFS = 2000  # inclusion and consistency proofs asked for, one after another
HTTP_PROOFS = 1000


async def build_tree(pool: asyncpg.Pool) -> dict[str, float]:
    """The tree's follower over the whole history from the start, as review runs it on a log recorded
    before the tree existed: wall time and this process's CPU per event."""
    head = int(await pool.fetchval("SELECT max(position) FROM review.events"))
    began, cpu = time.perf_counter(), time.process_time()
    async with pool.acquire() as conn:
        while (await SUBSCRIPTION.process(conn, extend_tree))[1]:
            pass
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    assert await tree_size(pool) == head
    return {"events": head, "per_s": round(head / seconds, 1), "cpu_us_per_event": round(cpu * 1e6 / head, 1)}


async def leaf_bytes_cost(pool: asyncpg.Pool, sample: int = 20_000) -> dict[str, float]:
    """Of the follower's CPU per event, what computing the leaf (the event's RFC 8785 JSON, the second
    time: the writer encoded it once for the chain hash) and hashing it take."""
    rows = await pool.fetch(f"SELECT {EVENT_COLUMNS} FROM review.events ORDER BY position LIMIT $1", sample)
    events = [row_to_event(row) for row in rows]
    began = time.process_time()
    leaves = [leaf_of(event_view(event)) for event in events]
    encoding = time.process_time() - began
    began = time.process_time()
    for leaf in leaves:
        leaf_hash(leaf)
    hashing = time.process_time() - began
    return {
        "leaf_json_us_per_event": round(encoding * 1e6 / len(events), 1),
        "leaf_hash_us_per_event": round(hashing * 1e6 / len(events), 1),
        "leaf_bytes_mean": round(statistics.fmean(len(leaf) for leaf in leaves)),
    }


async def signing(pool: asyncpg.Pool, directory: Path, rounds: int = 20, step: int = 100) -> dict[str, Any]:
    """The first checkpoint over the whole history (it writes every leaf-hash tile), then `rounds`
    checkpoints each `step` events further, as the log signs them while it grows."""
    head = await tree_size(pool)
    signer = NoteSigner("bench.kipp.local/log", Ed25519PrivateKey.generate())
    behind = Subscription(NAME, SUBSCRIPTION.columns, step)
    async with pool.acquire() as conn:  # take the tree back, to grow it step by step again
        await conn.execute(
            "DELETE FROM review.merkle_nodes WHERE index >= $1 AND level = 0", head - rounds * step
        )
        await conn.execute(
            "DELETE FROM review.merkle_nodes AS n"
            " WHERE level > 0 AND (n.index + 1) * (1::bigint << n.level) > $1",
            head - rounds * step,
        )
        await conn.execute(
            "UPDATE review.projection_checkpoints SET position = $2 WHERE name = $1",
            NAME,
            head - rounds * step,
        )
    began = time.perf_counter()
    await sign_checkpoint(pool, signer, directory)
    first = time.perf_counter() - began
    latencies = []
    for _ in range(rounds):
        async with pool.acquire() as conn:
            await behind.process(conn, extend_tree)
        began = time.perf_counter()
        await sign_checkpoint(pool, signer, directory)
        latencies.append(time.perf_counter() - began)
    assert await tree_size(pool) == head
    return {
        "first_over_whole_history_ms": round(first * 1000, 1),
        "tiles_written": len(list((directory / "tile" / "0").rglob("*"))),
        "next_p50_ms": round(percentile(latencies, 0.5) * 1000, 2),
        "next_max_ms": round(max(latencies) * 1000, 2),
    }


async def proofs(pool: asyncpg.Pool) -> dict[str, Any]:
    """Inclusion proofs of random events in the whole tree, and consistency proofs from a random earlier
    size to the whole tree, each read from the stored nodes as the API's routes read them."""
    size = await tree_size(pool)
    rng = random.Random(13)
    inclusion, consistency = [], []
    for _ in range(PROOFS):
        began = time.perf_counter()
        await prove_inclusion(pool, rng.randrange(size), size)
        inclusion.append(time.perf_counter() - began)
        began = time.perf_counter()
        await prove_consistency(pool, rng.randrange(1, size), size)
        consistency.append(time.perf_counter() - began)
    return {
        "tree_size": size,
        "inclusion": Rate(PROOFS, sum(inclusion), inclusion).summary(),
        "consistency": Rate(PROOFS, sum(consistency), consistency).summary(),
    }


# How long the proofs over HTTP wait for review to catch up on the generated history before they are
# measured at rest (it starts with every follower at zero; the resemblance finder is the slowest).
AT_REST_WITHIN = 600


async def proofs_over_http(url: str, size: int) -> dict[str, Any]:
    """The same proofs from review's routes (authentication, the tree's coverage, JSON) by one client:
    first while review, just started on the generated history, catches up on it (its followers start
    from none), then at rest, once every follower has caught up, as an auditor meets a running ledger."""
    rng = random.Random(17)
    async with running_system(url) as system:
        _, auditor = await create_key(system.pool, Role.AUDITOR, "bench auditor")
        headers = {"Authorization": f"Bearer {auditor}"}
        async with aiohttp.ClientSession(system.review.url, headers=headers) as http:
            for _ in range(50):  # warm up: the first requests meet review signing its first checkpoint
                async with http.get(f"/v1/audit/inclusion?position=1&tree_size={size}") as answer:
                    await answer.read()
            during = await _timed_proofs(http, size, rng)
            began = time.perf_counter()
            at_rest = await quiesce(system, within=AT_REST_WITHIN)
            caught_up_in = time.perf_counter() - began
            rested = await _timed_proofs(http, size, rng)
    return {
        **rested,
        "at_rest": at_rest,
        "caught_up_in_s": round(caught_up_in, 1),
        "during_catch_up": during,
    }


async def _timed_proofs(http: aiohttp.ClientSession, size: int, rng: random.Random) -> dict[str, Any]:
    found: dict[str, list[float]] = {"inclusion": [], "consistency": []}
    for _ in range(HTTP_PROOFS):
        for kind, query in (
            ("inclusion", f"position={rng.randrange(1, size + 1)}&tree_size={size}"),
            ("consistency", f"first={rng.randrange(1, size)}&second={size}"),
        ):
            began = time.perf_counter()
            async with http.get(f"/v1/audit/{kind}?{query}") as answer:
                await answer.read()
                if answer.status != 200:
                    raise RuntimeError(f"review answered {answer.status} to {kind}?{query}")
            found[kind].append(time.perf_counter() - began)
    return {kind: Rate(len(samples), sum(samples), samples).summary() for kind, samples in found.items()}


@contextlib.asynccontextmanager
async def store_with_tree(url: str) -> AsyncIterator[tuple[PostgresEventStore, Settle]]:
    """The event store with the tree's follower in the same process, poked after every append as review
    runs it; and what waits until the tree holds every event appended (ending each of its turns)."""
    pool = await create_pool(url, min_size=2, max_size=6)
    recent = RecentLeaves()
    signer = NoteSigner("bench.kipp.local/log", Ed25519PrivateKey.generate())
    keeper = TreeKeeper(pool, signer, "", 3600, recent)
    store = PostgresEventStore(pool, on_append=(keeper.poke,), on_commit=recent.remember)
    await store.start()
    keeper.tree.start()

    async def caught_up() -> None:
        head = await pool.fetchval("SELECT coalesce(max(position), 0) FROM review.events")
        while await tree_size(pool) < head:
            keeper.poke()
            await asyncio.sleep(0.002)

    try:
        await asyncio.gather(*(store.append(uuid.uuid4(), 0, [appends.new_event()]) for _ in range(10)))
        await caught_up()
        yield store, caught_up
    finally:
        await keeper.tree.stop()
        await store.stop()
        await pool.close()


async def append_ratios(rounds: int) -> dict[str, Any]:
    """Per writer count, the median round of (appends with the tree) / (raw INSERT), and of appends
    without it in the same round (the three sides by turns, each in a database of its own), so the tree's
    share shows beside the target."""
    found: dict[str, Any] = {}
    for writers, per_writer in ((1, 3000), (16, 500)):
        ratios = []
        for _ in range(rounds):
            async with (
                scratch_database() as raw_url,
                scratch_database() as without_url,
                scratch_database() as with_url,
                appends.raw_connections(raw_url, writers) as connections,
                appends.started_store(without_url) as without,
                store_with_tree(with_url) as (with_tree, caught_up),
            ):
                sides = {
                    "raw": appends.raw_appends(connections),
                    "without": appends.store_appends(without, writers),
                    "with_tree": appends.store_appends(with_tree, writers),
                }
                rates = await interleaved(sides, writers, per_writer, settle={"with_tree": caught_up})
            raw, without_tree, tree = (rates[side].per_second for side in ("raw", "without", "with_tree"))
            ratios.append(
                (
                    tree / raw,
                    {
                        "with_tree_per_s": round(tree, 1),
                        "without_tree_per_s": round(without_tree, 1),
                        "raw_insert_per_s": round(raw, 1),
                        "ratio_without_tree": round(without_tree / raw, 3),
                    },
                )
            )
        ordered = sorted(ratios, key=lambda r: r[0])
        ratio, details = ordered[len(ordered) // 2]
        found[f"append_{writers}_with_tree"] = {
            **details,
            "ratios_of_rounds": [round(r, 3) for r, _ in ratios],
        }
        found[f"append_ratio_{writers}_with_tree"] = round(ratio, 3)
    return found


async def measure(events: int, generate: Any, rounds: int) -> dict[str, Any]:
    """Every figure of the section over a generated history of `events` events."""
    results: dict[str, Any] = {}
    async with scratch_database() as url:
        await generate(url, events)
        pool = await create_pool(url, min_size=1, max_size=4)
        try:
            results["tree_build"] = {**await build_tree(pool), **await leaf_bytes_cost(pool)}
            with tempfile.TemporaryDirectory(prefix="kipp-bench-checkpoints-") as kept:
                results["checkpoint_signing"] = await signing(pool, Path(kept))
            results["proofs"] = await proofs(pool)
            size = results["proofs"]["tree_size"]
        finally:
            await pool.close()
        results["proofs_over_http"] = await proofs_over_http(url, size)
    results.update(await append_ratios(rounds))
    return results
