"""Scale-out: sustained submissions/s with 1, 2 and 3 review processes and 1 and 2 intake processes on one
database and broker prefix, and what each run left behind checked: every submission recorded once, the
chain intact, the projection and intake's view caught up, nothing dead-lettered."""

import os
from typing import Any

from benchmarks import e2e
from benchmarks.common import AMQP_URL, scratch_database
from services.review.audit import verify_chain
from services.review.eventstore.postgres import PostgresEventStore
from shared.broker import QueueDepths
from shared.contract import Topology

SUBMISSIONS = 2000
SHAPES = [(intakes, reviews) for intakes in (1, 2) for reviews in (1, 2, 3)]


async def left_behind(system: e2e.RunningSystem, submitted: int) -> dict[str, Any]:
    """What the run left: it must be every submission once, in an intact chain, projected and followed."""
    counts = await system.pool.fetchrow(
        "SELECT (SELECT count(*) FROM review.events) AS events,"
        " (SELECT count(DISTINCT stream_id) FROM review.events) AS streams,"
        " (SELECT count(*) FROM review.proposal_status) AS projected,"
        " (SELECT count(*) FROM intake.proposals WHERE review_version = 1) AS followed"
    )
    assert counts is not None
    chain = await verify_chain(PostgresEventStore(system.pool).read_all())
    topology = Topology(system.intake.env["KIPP_PREFIX"])
    depths = QueueDepths(AMQP_URL)
    try:
        dead = await depths.depths(topology.review_dead_letter_queue, topology.intake_dead_letter_queue)
    finally:
        await depths.close()
    sound = (
        counts["events"] == counts["streams"] == counts["projected"] == counts["followed"] == submitted
        and chain.intact
        and not any(dead.values())
    )
    return {**dict(counts), "chain_intact": chain.intact, "dead_lettered": sum(dead.values()), "sound": sound}


async def measure() -> dict[str, Any]:
    rows = []
    for intakes, reviews in SHAPES:
        async with scratch_database() as url, e2e.running_system(url, reviews, intakes) as system:
            meter = e2e.cpu_meter(system)
            meter.start()
            submitted = await e2e.submit_and_watch(system.pipeline(), SUBMISSIONS)
            await e2e.quiesce(system)
            spent = meter.stop()
            checked = await left_behind(system, SUBMISSIONS)
        rows.append(
            {
                "intake_processes": intakes,
                "review_processes": reviews,
                "per_s": round(submitted.per_second, 1),
                "freshness_p50_ms": round(e2e.freshness_ms(submitted, 0.5), 1),
                "cpu_ms_per_submission": {
                    name: round(seconds * 1000 / SUBMISSIONS, 2) for name, seconds in spent.items()
                },
                **checked,
            }
        )
        print(
            f"  {intakes} intake, {reviews} review: {rows[-1]['per_s']}/s, sound: {checked['sound']}",
            flush=True,
        )
    return {"submissions": SUBMISSIONS, "cores": len(os.sched_getaffinity(0)), "runs": rows}
