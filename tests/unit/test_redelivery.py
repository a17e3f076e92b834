"""How many attempts a message has had, and which retry queue it waits in before the next."""

from typing import Any

import pytest

from shared.contract import Topology
from shared.redelivery import ATTEMPTS, attempt, retry_queue

TOPOLOGY = Topology("kipp", retry_delays=(0.2, 1.0, 5.0))
QUEUE = TOPOLOGY.review_queue


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, 1),  # a first delivery
        ({"x-delivery-count": 2}, 3),  # put back in its queue twice (a consumer died with it)
        ({ATTEMPTS: 4}, 5),  # back from a retry queue after four attempts
        ({ATTEMPTS: 4, "x-delivery-count": 1}, 6),
        # Headers are not signed: what is not a count counts for nothing.
        ({ATTEMPTS: "9"}, 1),
        ({ATTEMPTS: -3}, 1),
        ({ATTEMPTS: True}, 1),
        ({ATTEMPTS: None, "x-delivery-count": None}, 1),
    ],
)
def test_attempts_count_those_before_the_retry_queue_and_the_deliveries_since(
    headers: dict[str, Any], expected: int
) -> None:
    assert attempt(headers) == expected


def test_each_retry_waits_longer_up_to_the_last_step() -> None:
    waits = [retry_queue(TOPOLOGY, QUEUE, tried) for tried in range(1, 7)]
    assert waits == [
        f"{QUEUE}.retry.1",
        f"{QUEUE}.retry.2",
        f"{QUEUE}.retry.3",
        f"{QUEUE}.retry.3",
        f"{QUEUE}.retry.3",
        f"{QUEUE}.retry.3",
    ]


def test_every_retry_queue_is_part_of_the_topology() -> None:
    for consuming in (TOPOLOGY.review_queue, TOPOLOGY.intake_queue):
        assert set(TOPOLOGY.retry_queues(consuming)) <= set(TOPOLOGY.all_queues())
    assert TOPOLOGY.retry_exchange in TOPOLOGY.all_exchanges()
