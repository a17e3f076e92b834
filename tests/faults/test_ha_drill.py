"""The HA drill: the system on a three-node RabbitMQ cluster and a PostgreSQL primary with a synchronous hot
standby (all on spare ports of this machine), submitting systems submitting without pause, and two servers
lost under that load: the broker node every service is connected to crashes (SIGKILL), then the database
primary crashes (pg_ctl stop -m immediate) and the standby is promoted.

Counted afterwards: submissions acknowledged (202), recorded in review's event store, lost (acknowledged,
never recorded: must be 0), duplicated (recorded twice, or a proposal intake holds that no acknowledgement
named: must be 0), and the seconds without service around each failure (the longest wait between two
acknowledgements, and between two events recorded). The counts are printed and kept in
benchmarks/results.json under "ha_drill", beside the benchmark's figures. Seconds are reported, not
asserted: the machine is shared.
"""

import asyncio
import datetime
import json
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from shared.contract import Topology
from tests.faults.ha import HaSystem, ha_system
from tests.faults.ha_load import Submitters, longest_gap
from tests.faults.harness import REPORT
from tests.keys import bearer

pytestmark = pytest.mark.faults

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results.json"
PREFIX = "kipp"
DRILL_SECONDS = 360  # everything, from starting five servers to removing them


async def test_a_broker_node_crashes_then_the_database_primary_and_nothing_acknowledged_is_lost() -> None:
    injected: list[str] = []

    def note(what: str) -> float:
        injected.append(what)
        print(f"[ha] injecting: {what}")
        return time.time()

    began = time.monotonic()
    async with asyncio.timeout(DRILL_SECONDS), ha_system(PREFIX) as system:
        print(
            f"[ha] 3 RabbitMQ nodes clustered, PostgreSQL primary and synchronous standby streaming, "
            f"migrated in {system.engines_seconds:.1f} s; intake and review up in "
            f"{system.services_seconds:.1f} s"
        )
        await replicated_on_every_node(system)
        load = Submitters(system.intake.url, system.keys.submitter)
        load.start()
        try:
            await until(lambda: len(load.acknowledged) >= 50, "50 acknowledgements before any failure")
            broker_failed = note(
                f"RabbitMQ node {system.cluster.nodes[0].name} killed (SIGKILL): the node every service was "
                "connected to, and its queues' leader"
            )
            system.cluster.nodes[0].crash()
            await recorded_since(system, load, broker_failed)
            database_failed = note(
                "PostgreSQL primary stopped with -m immediate (a crash), then the standby promoted"
            )
            await system.databases.primary.stop("immediate")
            promoting = time.monotonic()
            await system.databases.standby.promote()
            promotion = time.monotonic() - promoting
            await recorded_since(system, load, database_failed)
        except BaseException:
            load.stop(within=1, strict=False)
            raise
        load.stop()
        ended = time.time()
        books = await settle_and_read(system, load)
        intact = await chain_verification(system)

    acknowledged = {a.proposal_id for a in load.acknowledged}
    keys = {a.idempotency_key for a in load.acknowledged}
    submitted = Counter(stream for stream, kind, _ in books.events if kind == "ProposalSubmitted")
    recorded = sum(1 for proposal in acknowledged if submitted[proposal] >= 1)
    acks = [a.at for a in load.acknowledged]
    recordings = [moment for _, _, moment in books.events]
    counts: dict[str, Any] = {
        "acknowledged": len(acknowledged),
        "recorded": recorded,
        "lost": len(acknowledged) - recorded,
        "duplicated": sum(n - 1 for n in submitted.values()) + (books.intake_proposals - len(keys)),
        "recorded_without_acknowledgement": len(set(submitted) - acknowledged),
        "submissions_retried_after_the_clients_retries": load.retried,
        "broker_node_crash": {
            "longest_without_acknowledgement_s": round(longest_gap(acks, broker_failed, database_failed), 2),
            "longest_without_recording_s": round(longest_gap(recordings, broker_failed, database_failed), 2),
        },
        "database_primary_crash": {
            "promotion_s": round(promotion, 2),
            "longest_without_acknowledgement_s": round(longest_gap(acks, database_failed, ended), 2),
            "longest_without_recording_s": round(longest_gap(recordings, database_failed, ended), 2),
        },
        "chain_intact": intact["intact"],
        "events_checked": intact["checked"],
        "engines_start_s": round(system.engines_seconds, 1),
        "drill_s": round(time.monotonic() - began, 1),
    }
    report(injected, counts)
    assert counts["lost"] == 0
    assert counts["duplicated"] == 0
    assert counts["recorded_without_acknowledgement"] == 0
    assert intact["intact"] is True
    assert intact["checked"] == len(books.events)
    assert books.positions == list(range(1, len(books.events) + 1)), "the event store's positions have a gap"


async def replicated_on_every_node(system: HaSystem) -> None:
    """The queues the services declared have a replica on each of the three nodes."""
    nodes = sorted(node.name for node in system.cluster.nodes)
    members = await system.cluster.queue_members(system.cluster.nodes[1])
    topology = Topology(PREFIX)
    for queue in (topology.review_queue, topology.intake_queue):
        assert members[queue] == nodes, (queue, members.get(queue))
    print(f"[ha] {topology.review_queue} and {topology.intake_queue}: quorum queues on {', '.join(nodes)}")


async def until(condition: Any, what: str, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"not within {within} s: {what}"
        await asyncio.sleep(0.1)


async def recorded_since(system: HaSystem, load: Submitters, moment: float, at_least: int = 25) -> None:
    """Waits until service is back: at least `at_least` submissions acknowledged after `moment` are
    recorded in review's event store (intake, the broker and review all working again)."""
    deadline = time.monotonic() + 120
    while True:
        fresh = [uuid.UUID(a.proposal_id) for a in load.since(moment)]
        if len(fresh) >= at_least:
            try:
                conn = await asyncpg.connect(system.databases.owner_url())
            except (OSError, asyncpg.PostgresError, asyncpg.TargetServerAttributeNotMatched):
                conn = None
            if conn is not None:
                try:
                    found = await conn.fetchval(
                        "SELECT count(DISTINCT stream_id) FROM review.events WHERE stream_id = ANY($1)", fresh
                    )
                finally:
                    await conn.close()
                if found >= at_least:
                    print(f"[ha] service back: {found} submissions acknowledged since the failure recorded")
                    return
        assert time.monotonic() < deadline, f"service not back within 120 s ({len(fresh)} acknowledged since)"
        await asyncio.sleep(0.5)


class Books:
    def __init__(self, events: list[tuple[str, str, float]], positions: list[int], intake_proposals: int):
        self.events = events  # (stream, type, recorded at) in position order
        self.positions = positions
        self.intake_proposals = intake_proposals


async def settle_and_read(system: HaSystem, load: Submitters, within: float = 120) -> Books:
    """Waits until every acknowledged submission is recorded and intake's outbox is empty, then reads."""
    acknowledged = [uuid.UUID(a.proposal_id) for a in load.acknowledged]
    conn = await asyncpg.connect(system.databases.owner_url())
    try:
        deadline = time.monotonic() + within
        while True:
            recorded = await conn.fetchval(
                "SELECT count(DISTINCT stream_id) FROM review.events WHERE stream_id = ANY($1)", acknowledged
            )
            outbox = await conn.fetchval("SELECT count(*) FROM intake.outbox")
            if recorded == len(acknowledged) and outbox == 0:
                break
            if time.monotonic() > deadline:
                print(f"[ha] not settled after {within} s: {recorded=} of {len(acknowledged)}, {outbox=}")
                break  # counted as they are: what is missing shows as lost
            await asyncio.sleep(0.5)
        rows = await conn.fetch(
            "SELECT position, stream_id, type, recorded_at FROM review.events ORDER BY position"
        )
        proposals = await conn.fetchval("SELECT count(*) FROM intake.proposals")
    finally:
        await conn.close()
    events = [(str(row["stream_id"]), row["type"], row["recorded_at"].timestamp()) for row in rows]
    return Books(events, [row["position"] for row in rows], int(proposals))


async def chain_verification(system: HaSystem) -> dict[str, Any]:
    """The hash chain walked by review on the promoted standby, as an auditor asks for it."""
    async with httpx.AsyncClient(base_url=system.review.url, timeout=60) as client:
        answer = await client.get("/v1/audit/verification", headers=bearer(system.keys.auditor))
    assert answer.status_code == 200, answer.text
    verification: dict[str, Any] = answer.json()
    return verification


def report(injected: list[str], counts: dict[str, Any]) -> None:
    """Prints what was injected and counted (also in the test run's summary) and keeps it for the bench."""
    broker, database = counts["broker_node_crash"], counts["database_primary_crash"]
    lines = [
        f"ha-drill: injected: {'; '.join(injected)}",
        f"ha-drill: acknowledged {counts['acknowledged']}, recorded {counts['recorded']}, lost "
        f"{counts['lost']}, duplicated {counts['duplicated']}, recorded without acknowledgement "
        f"{counts['recorded_without_acknowledgement']}, submissions sent again after the client's own "
        f"retries {counts['submissions_retried_after_the_clients_retries']}",
        f"ha-drill: broker node crash: longest without an acknowledgement "
        f"{broker['longest_without_acknowledgement_s']} s, without a recorded event "
        f"{broker['longest_without_recording_s']} s",
        f"ha-drill: database primary crash: standby promoted in {database['promotion_s']} s; longest without "
        f"an acknowledgement {database['longest_without_acknowledgement_s']} s, without a recorded event "
        f"{database['longest_without_recording_s']} s",
        f"ha-drill: hash chain intact over {counts['events_checked']} events: {counts['chain_intact']}; "
        f"engines started in {counts['engines_start_s']} s; whole drill {counts['drill_s']} s",
    ]
    REPORT.extend(lines)
    print("\n".join(lines))
    try:
        results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    except ValueError:
        results = {}
    measured = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    results["ha_drill"] = {"measured_at": measured, "injected": injected, **counts}
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
