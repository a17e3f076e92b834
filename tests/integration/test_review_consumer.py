"""Review consumes intake's events from a real RabbitMQ into the real event store."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import asyncpg
import httpx
import pytest

from services.review.app import create_app as create_review
from services.review.settings import ReviewSettings
from shared.contract import (
    PROPOSAL_REVISED,
    PROPOSAL_SUBMITTED,
    PROPOSAL_WITHDRAWN,
    Envelope,
    Topology,
    new_envelope,
)
from tests.apps import (
    drain_queue,
    eventually,
    publish_envelope,
    publish_raw,
    queue_depth,
    review_app,
    running,
)
from tests.fixtures import SUBMITTER, a_proposal, encrypted
from tests.keys import Keys, bearer


def intake_event(
    event_type: str, proposal_id: uuid.UUID, data: dict[str, Any], sequence: int | None = None
) -> Envelope:
    """An intake event as intake numbers them (the submission first, then the next one), its innovator's
    fields encrypted as intake sends them."""
    return encrypted(
        new_envelope(
            event_type,
            proposal_id,
            datetime.now(UTC),
            data,
            actor=SUBMITTER,
            source="test",
            correlation_id=str(uuid.uuid4()),
            sequence=sequence or (1 if event_type == PROPOSAL_SUBMITTED else 2),
        )
    )


@pytest.fixture
async def review(
    database_url: str, amqp_url: str, topology: Topology, keys: Keys
) -> AsyncIterator[httpx.AsyncClient]:
    async with running(review_app(database_url, amqp_url, topology)) as client:
        client.headers.update(bearer(keys.reviewer))
        yield client


async def stream_types(pool: asyncpg.Pool, proposal_id: uuid.UUID) -> list[str]:
    rows = await pool.fetch(
        "SELECT type FROM review.events WHERE stream_id = $1 ORDER BY version", proposal_id
    )
    return [row["type"] for row in rows]


async def test_records_a_submission_and_shows_its_status(
    review: httpx.AsyncClient, amqp_url: str, topology: Topology, pool: asyncpg.Pool
) -> None:
    envelope = intake_event(PROPOSAL_SUBMITTED, uuid.uuid4(), a_proposal())
    await publish_envelope(amqp_url, topology, envelope)

    async def visible() -> httpx.Response | None:
        answer = await review.get(f"/v1/proposals/{envelope.proposal_id}")
        return answer if answer.status_code == 200 else None

    answer = await eventually(visible)
    assert answer.json()["status"] == "submitted"
    assert answer.headers["etag"] == '"1"'
    event = await pool.fetchrow("SELECT event_id, metadata FROM review.events")
    assert event is not None
    assert event["event_id"] == envelope.event_id
    assert event["metadata"]["actor"] == SUBMITTER.model_dump(mode="json")


async def test_a_message_delivered_many_times_is_recorded_once(
    review: httpx.AsyncClient, amqp_url: str, topology: Topology, pool: asyncpg.Pool
) -> None:
    envelope = intake_event(PROPOSAL_SUBMITTED, uuid.uuid4(), a_proposal())
    for _ in range(10):
        await publish_envelope(amqp_url, topology, envelope)
    marker = intake_event(PROPOSAL_SUBMITTED, uuid.uuid4(), a_proposal())
    await publish_envelope(amqp_url, topology, marker)  # sent last; once it is in, the copies were handled

    await eventually(
        lambda: pool.fetchval("SELECT 1 FROM review.events WHERE event_id = $1", marker.event_id)
    )
    assert await queue_depth(amqp_url, topology.review_queue) == 0
    assert await stream_types(pool, envelope.proposal_id) == ["ProposalSubmitted"]
    assert await pool.fetchval("SELECT count(*) FROM review.events") == 2


async def test_a_revision_that_arrives_before_its_submission_is_kept_and_does_not_block(
    review: httpx.AsyncClient, amqp_url: str, topology: Topology, pool: asyncpg.Pool
) -> None:
    proposal_id = uuid.uuid4()
    submitted = intake_event(PROPOSAL_SUBMITTED, proposal_id, a_proposal())
    revised = intake_event(PROPOSAL_REVISED, proposal_id, a_proposal(title="Versi kedua"))
    await publish_envelope(amqp_url, topology, revised)
    await publish_envelope(amqp_url, topology, submitted)
    assert await eventually(lambda: stream_types(pool, proposal_id)) == ["ProposalSubmitted"]
    # The lifecycle takes a revision only after review asked for one, so this one is tried again after a
    # growing delay (and dead-lettered after MAX_REFUSALS attempts): not recorded,
    # not dead-lettered at once, and not in the way of the submission.
    assert await drain_queue(amqp_url, topology.review_dead_letter_queue) == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"this is not json", "unprocessable"),
        (b'{"event_id": "not even an envelope"}', "unprocessable"),
    ],
)
async def test_an_unprocessable_message_is_dead_lettered_with_its_reason_and_the_next_goes_on(
    review: httpx.AsyncClient, amqp_url: str, topology: Topology, pool: asyncpg.Pool, body: bytes, reason: str
) -> None:
    await publish_raw(amqp_url, topology.intake_exchange, PROPOSAL_SUBMITTED, body, "poison-1")
    good = intake_event(PROPOSAL_SUBMITTED, uuid.uuid4(), a_proposal())
    await publish_envelope(amqp_url, topology, good)

    await eventually(lambda: pool.fetchval("SELECT 1 FROM review.events WHERE event_id = $1", good.event_id))
    dead = await eventually(lambda: drain_queue(amqp_url, topology.review_dead_letter_queue))
    assert [m.body for m in dead] == [body]
    assert dead[0].message_id == "poison-1"
    assert str(dead[0].headers["x-kipp-dead-letter-reason"]).startswith(reason)


@pytest.mark.parametrize(
    ("event_type", "data", "reason"),
    [
        ("proposal.renamed", {}, "unknown event type"),
        (PROPOSAL_SUBMITTED, a_proposal(sdgs=[42]), "sdgs[0]"),
        (PROPOSAL_SUBMITTED, {"title": "no more than a title"}, "not a valid proposal"),
    ],
)
async def test_an_envelope_the_contract_refuses_is_dead_lettered(
    review: httpx.AsyncClient,
    amqp_url: str,
    topology: Topology,
    pool: asyncpg.Pool,
    event_type: str,
    data: dict[str, Any],
    reason: str,
) -> None:
    envelope = intake_event(event_type, uuid.uuid4(), data)
    await publish_raw(
        amqp_url, topology.intake_exchange, "proposal.submitted", envelope.model_dump_json().encode()
    )
    dead = await eventually(lambda: drain_queue(amqp_url, topology.review_dead_letter_queue))
    assert reason in str(dead[0].headers["x-kipp-dead-letter-reason"])
    assert await pool.fetchval("SELECT count(*) FROM review.events") == 0


async def test_review_consumes_from_a_durable_quorum_queue(
    review: httpx.AsyncClient, amqp_url: str, topology: Topology
) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        # Redeclaring with the same type succeeds; with another type the broker refuses (406).
        await channel.declare_queue(topology.review_queue, durable=True, passive=True)
        with pytest.raises(aio_pika.exceptions.ChannelPreconditionFailed):
            await channel.declare_queue(
                topology.review_queue, durable=True, arguments={"x-queue-type": "classic"}
            )


async def test_a_withdrawal_that_arrives_before_its_submission_waits_and_then_applies(
    review: httpx.AsyncClient, amqp_url: str, topology: Topology, pool: asyncpg.Pool
) -> None:
    proposal_id = uuid.uuid4()
    withdrawn = intake_event(PROPOSAL_WITHDRAWN, proposal_id, {"reason": "digabung"})
    submitted = intake_event(PROPOSAL_SUBMITTED, proposal_id, a_proposal())
    await publish_envelope(amqp_url, topology, withdrawn)
    # The withdrawal has been refused (no such proposal yet) and waits to be tried again.
    await asyncio.sleep(0.3)
    await publish_envelope(amqp_url, topology, submitted)

    async def both() -> list[str] | None:
        types = await stream_types(pool, proposal_id)
        return types if len(types) == 2 else None

    assert await eventually(both, within=15) == ["ProposalSubmitted", "ProposalWithdrawn"]


async def test_a_decision_is_visible_to_the_next_get_even_when_the_projection_lags(
    database_url: str, amqp_url: str, topology: Topology, keys: Keys
) -> None:
    settings = ReviewSettings(
        database_url=database_url, amqp_url=amqp_url, prefix=topology.prefix, decision_wait_seconds=0.2
    )
    app = create_review(settings)
    async with running(app) as review:
        review.headers.update(bearer(keys.reviewer))
        envelope = intake_event(PROPOSAL_SUBMITTED, uuid.uuid4(), a_proposal())
        await publish_envelope(amqp_url, topology, envelope)
        path = f"/v1/proposals/{envelope.proposal_id}"
        await eventually(lambda: _status_is(review, path, "submitted"))

        await app.state.context.projector.worker.stop()  # the projection stops following
        decided = await review.post(f"{path}/verification", json={"outcome": "passed"})
        assert decided.status_code == 200
        assert (decided.json()["status"], decided.headers["etag"]) == ("verified", '"2"')
        assert "not caught up" in decided.headers["warning"]
        seen = await review.get(path)
        assert (seen.json()["status"], seen.headers["etag"]) == ("verified", '"2"')
        listed = (await review.get("/v1/proposals")).json()["items"]
        assert listed[0]["status"] == "submitted"  # the list is the projection: it still lags

        app.state.context.projector.worker.start()
        await eventually(lambda: _listed_status_is(review, "verified"))
        assert "warning" not in (await review.get(path)).headers


async def _status_is(review: httpx.AsyncClient, path: str, status: str) -> bool:
    answer = await review.get(path)
    return answer.status_code == 200 and answer.json()["status"] == status


async def _listed_status_is(review: httpx.AsyncClient, status: str) -> bool:
    items = (await review.get("/v1/proposals")).json()["items"]
    return bool(items) and items[0]["status"] == status


async def test_an_event_whose_predecessor_never_came_is_dead_lettered_after_a_day_not_after_retries(
    review: httpx.AsyncClient, amqp_url: str, topology: Topology, pool: asyncpg.Pool
) -> None:
    proposal_id = uuid.uuid4()
    submitted = intake_event(PROPOSAL_SUBMITTED, proposal_id, a_proposal())
    await publish_envelope(amqp_url, topology, submitted)
    await eventually(lambda: stream_types(pool, proposal_id))
    orphan = intake_event(PROPOSAL_WITHDRAWN, proposal_id, {"reason": "x"})
    orphan = orphan.model_copy(
        update={
            "occurred_at": datetime.now(UTC) - timedelta(days=2),
            "metadata": orphan.metadata.model_copy(update={"sequence": 3}),  # 2 was never published
        }
    )
    await publish_envelope(amqp_url, topology, orphan)
    dead = await eventually(lambda: drain_queue(amqp_url, topology.review_dead_letter_queue))
    assert "waited" in str(dead[0].headers["x-kipp-dead-letter-reason"])
    assert await stream_types(pool, proposal_id) == ["ProposalSubmitted"]


async def test_an_event_the_database_cannot_store_is_dead_lettered_not_retried(
    review: httpx.AsyncClient, amqp_url: str, topology: Topology, pool: asyncpg.Pool
) -> None:
    proposal_id = uuid.uuid4()
    await publish_envelope(amqp_url, topology, intake_event(PROPOSAL_SUBMITTED, proposal_id, a_proposal()))
    await eventually(lambda: stream_types(pool, proposal_id))
    # Another producer than intake, which would have refused the NUL character with a 422.
    await publish_envelope(
        amqp_url, topology, intake_event(PROPOSAL_WITHDRAWN, proposal_id, {"reason": "\u0000"})
    )
    dead = await eventually(lambda: drain_queue(amqp_url, topology.review_dead_letter_queue))
    assert str(dead[0].headers["x-kipp-dead-letter-reason"]).startswith("unstorable")
    assert await stream_types(pool, proposal_id) == ["ProposalSubmitted"]
