"""Review's Prometheus metrics: appends, the consumer's queues, dead letters, projection lag, audits."""

from typing import TYPE_CHECKING

import asyncpg
from prometheus_client import Counter, Gauge, Histogram

from shared.contract import Topology
from shared.observability import PARKED, QUEUE_DEPTH

if TYPE_CHECKING:  # the broker client is for the process that measures queues, not every importer
    from shared.broker import QueueDepths

EVENTS_APPENDED = Counter("kipp_events_appended_total", "Events appended to the event store", ["type"])
APPEND_SECONDS = Histogram(
    "kipp_append_seconds",
    "Time from asking the store to append to the commit",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
)
INTAKE_MESSAGES = Counter("kipp_intake_messages_total", "Intake messages handled by review", ["outcome"])
CHAIN_VERIFICATIONS = Counter("kipp_chain_verifications_total", "Hash chain verifications", ["result"])
PROJECTION_LAG = Gauge("kipp_projection_lag_events", "Head position minus the projection's position")
HEAD_POSITION = Gauge("kipp_event_store_head_position", "Global position of the last recorded event")


async def refresh(pool: asyncpg.Pool, queue_depths: "QueueDepths", topology: Topology) -> None:
    """Gauges read at scrape time: the event store's head, the projection's lag, the queues' depths."""
    row = await pool.fetchrow(
        "SELECT (SELECT coalesce(max(position), 0) FROM review.events) AS head,"
        " (SELECT position FROM review.projection_checkpoints WHERE name = 'proposal_status') AS projected,"
        " (SELECT count(*) FROM review.parked_announcements) AS parked"
    )
    assert row is not None
    PARKED.labels("status-change-publisher").set(row["parked"])
    HEAD_POSITION.set(row["head"])
    PROJECTION_LAG.set(row["head"] - row["projected"])
    queues = (topology.review_queue, topology.review_dead_letter_queue)
    for name, depth in (await queue_depths.depths(*queues)).items():
        QUEUE_DEPTH.labels(name).set(depth)
