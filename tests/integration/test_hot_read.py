"""The status GET's fast path answers exactly what the route answers, inside the same middleware (metrics by
route template, correlation id), and leaves everything but a plain success to the route."""

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from services.review import queries
from shared.contract import PROPOSAL_SUBMITTED, Topology
from tests.apps import eventually, publish_envelope, review_app, running
from tests.fixtures import a_proposal
from tests.integration.test_review_consumer import intake_event
from tests.keys import Keys, bearer


def counted(function: Callable[..., Awaitable[Any]], calls: list[int]) -> Callable[..., Awaitable[Any]]:
    async def call(*args: Any) -> Any:
        calls.append(1)
        return await function(*args)

    return call


def requests_counted(metrics: str, status: str) -> float:
    for line in metrics.splitlines():
        if (
            line.startswith("kipp_http_requests_total{")
            and 'route="/v1/proposals/{proposal_id}"' in line
            and f'status="{status}"' in line
        ):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_a_read_answered_by_the_fast_path_is_the_routes_answer(
    database_url: str, amqp_url: str, topology: Topology, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(queries, "get_view_as", counted(queries.get_view_as, calls))
    envelope = intake_event(PROPOSAL_SUBMITTED, uuid.uuid4(), a_proposal())
    async with running(review_app(database_url, amqp_url, topology)) as review:
        review.headers.update(bearer(keys.reviewer))
        await publish_envelope(amqp_url, topology, envelope)
        path = f"/v1/proposals/{envelope.proposal_id}"

        async def projected() -> httpx.Response | None:
            answer = await review.get(path, params={"any": "1"})  # a query string: the route answers
            return answer if answer.status_code == 200 else None

        by_route = await eventually(projected)
        calls.clear()
        fast = await review.get(path, headers={"X-Correlation-ID": "read-1"})
        assert calls == [1]  # answered by the fast path
        metrics = (await review.get("/metrics")).text

    assert fast.status_code == 200
    assert fast.content == by_route.content
    assert fast.json()["proposal_id"] == str(envelope.proposal_id)
    for header in ("content-type", "etag", "content-length"):
        assert fast.headers[header] == by_route.headers[header]
    assert fast.headers["x-correlation-id"] == "read-1"
    assert requests_counted(metrics, "200") == 2  # both, under the route's template


@pytest.mark.parametrize(
    ("key", "status"),
    [(None, 401), ("revoked", 401), ("submitter", 403), ("reviewer", 404)],
)
async def test_what_the_fast_path_does_not_answer_the_route_answers_as_a_problem(
    database_url: str, amqp_url: str, topology: Topology, keys: Keys, key: str | None, status: int
) -> None:
    async with running(review_app(database_url, amqp_url, topology)) as review:
        headers = bearer(getattr(keys, key)) if key else {}
        answer = await review.get(f"/v1/proposals/{uuid.uuid4()}", headers=headers)
        metrics = (await review.get("/metrics")).text
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"
    assert requests_counted(metrics, str(status)) >= 1
