"""Intake's Prometheus metrics: what it accepted, the outbox's backlog and the age of its oldest event,
and the queue of review's status changes it follows."""

import asyncpg
from prometheus_client import Counter, Gauge

from shared.broker import QueueDepths
from shared.contract import Topology
from shared.observability import PARKED, QUEUE_DEPTH

ACCEPTED = Counter(
    "kipp_intake_accepted_total", "Submissions, revisions and withdrawals accepted", ["event_type"]
)
OUTBOX_BACKLOG = Gauge("kipp_outbox_backlog", "Events accepted but not yet confirmed by the broker")
OUTBOX_OLDEST_AGE = Gauge("kipp_outbox_oldest_age_seconds", "Age of the oldest event waiting in the outbox")
STATUS_CHANGES = Counter("kipp_status_changes_total", "Review status changes received by intake", ["outcome"])


async def refresh(pool: asyncpg.Pool, queue_depths: QueueDepths, topology: Topology) -> None:
    row = await pool.fetchrow(
        "SELECT count(*) AS backlog, coalesce(extract(epoch FROM now() - min(created_at)), 0) AS oldest,"
        " (SELECT count(*) FROM intake.parked_outbox) AS parked FROM intake.outbox"
    )
    assert row is not None
    PARKED.labels("outbox-relay").set(row["parked"])
    OUTBOX_BACKLOG.set(row["backlog"])
    OUTBOX_OLDEST_AGE.set(float(row["oldest"]))
    queues = (topology.intake_queue, topology.intake_dead_letter_queue)
    for name, depth in (await queue_depths.depths(*queues)).items():
        QUEUE_DEPTH.labels(name).set(depth)
