"""What an attacker or a careless client tried against the ledger, each against both services running as
processes, and how it now fails safely: nothing forged is recorded, nothing is retried forever, and a
submission made after the poison is visible in review within seconds."""

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import aio_pika
import asyncpg
import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from kipp_client import AsyncIntakeClient, Problem

from services.review.eventstore.base import NewEvent
from services.review.eventstore.postgres import PostgresEventStore
from shared.access import Actor, Role
from shared.contract import (
    PROPOSAL_STATUS_CHANGED,
    PROPOSAL_SUBMITTED,
    PROPOSAL_WITHDRAWN,
    Envelope,
    EnvelopeMetadata,
    Topology,
    new_envelope,
    valid_correlation_id,
)
from shared.signing import KEY_ID_HEADER, MessageSigner
from tests.apps import drain_queue, eventually, intake_signer, publish_raw
from tests.e2e.conftest import System
from tests.e2e.test_operations import scrape, value
from tests.e2e.test_review_lifecycle import decide, status_in_intake, status_in_review, submit
from tests.fixtures import SUBMITTER, a_proposal, encrypted
from tests.integration.test_dead_letters import run_kipp
from tests.keys import Keys

MINISTER = Actor(id=uuid.uuid4(), name="Menteri PANRB", role=Role.SUBMITTER)


async def still_flowing(intake: AsyncIntakeClient, review: httpx.AsyncClient) -> None:
    """A submission made now reaches review, and review's answer reaches intake."""
    proposal_id = await submit(intake)
    await status_in_review(review, proposal_id, "submitted")
    await decide(review, proposal_id, "verification", {"outcome": "passed"})
    await status_in_intake(intake, proposal_id, "verified")


async def dead_letter_reasons(amqp_url: str, queue: str, count: int) -> list[str]:
    """The reasons of the first `count` dead letters to arrive in `queue` (taken out of it)."""
    taken: list[aio_pika.abc.AbstractIncomingMessage] = []

    async def arrived() -> bool:
        taken.extend(await drain_queue(amqp_url, queue))
        return len(taken) >= count

    await eventually(arrived, within=15)
    return [str(message.headers.get("x-kipp-dead-letter-reason")) for message in taken]


def an_intake_event(
    event_type: str, proposal_id: uuid.UUID, data: dict[str, Any], **metadata: Any
) -> Envelope:
    """As intake would publish it: the innovator's fields encrypted."""
    fields: dict[str, Any] = {"actor": SUBMITTER, "sequence": 1, "correlation_id": "c-1", **metadata}
    return encrypted(
        new_envelope(event_type, proposal_id, datetime.now(UTC), data, source="intake-api", **fields)
    )


async def recorded(pool: asyncpg.Pool, event_id: uuid.UUID) -> bool:
    return bool(await pool.fetchval("SELECT count(*) FROM review.events WHERE event_id = $1", event_id))


async def test_a_correlation_id_amqp_cannot_carry_is_replaced_and_nothing_stalls(
    intake: AsyncIntakeClient, intake_http: httpx.AsyncClient, review: httpx.AsyncClient
) -> None:
    # By hand: raw bytes in a header, which the client (text headers only) cannot send.
    overlong = [(b"X-Correlation-ID", ("é" * 200).encode())]  # 400 bytes; an AMQP property holds 255
    answer = await intake_http.post("/v1/proposals", json=a_proposal(), headers=overlong)
    assert answer.status_code == 202
    assert valid_correlation_id(answer.headers["x-correlation-id"])
    proposal_id = answer.json()["proposal_id"]
    await status_in_review(review, proposal_id, "submitted")
    decided = await review.post(
        f"/v1/proposals/{proposal_id}/verification", json={"outcome": "passed"}, headers=overlong
    )
    assert decided.status_code == 200
    await status_in_intake(intake, proposal_id, "verified")  # the status publisher did not stall
    await still_flowing(intake, review)


async def test_an_outbox_row_that_cannot_be_published_is_parked_and_the_rows_after_it_go_on(
    intake: AsyncIntakeClient,
    review: httpx.AsyncClient,
    pool: asyncpg.Pool,
    system: System,
    database_url: str,
    amqp_url: str,
    topology: Topology,
) -> None:
    # Rows written before today's checks, or by a bug: a routing key AMQP cannot carry (over 255 bytes),
    # and an event whose correlation id is longer than AMQP's property allows.
    poison = an_intake_event(PROPOSAL_SUBMITTED, uuid.uuid4(), a_proposal())
    legacy = an_intake_event(PROPOSAL_SUBMITTED, uuid.uuid4(), a_proposal(), correlation_id="é" * 200)
    async with pool.acquire() as conn:
        for envelope, routing_key in ((poison, "proposal." + "x" * 300), (legacy, PROPOSAL_SUBMITTED)):
            await conn.execute(
                "INSERT INTO intake.outbox (event_id, proposal_id, routing_key, envelope)"
                " VALUES ($1, $2, $3, $4::text::jsonb)",
                envelope.event_id,
                envelope.proposal_id,
                routing_key,
                envelope.model_dump_json(),
            )
    await still_flowing(intake, review)
    await eventually(lambda: recorded(pool, legacy.event_id))  # published without the property
    parked = await pool.fetch("SELECT event_id, reason FROM intake.parked_outbox")
    assert [row["event_id"] for row in parked] == [poison.event_id]
    assert "cannot be encoded" in parked[0]["reason"]
    assert await pool.fetchval("SELECT count(*) FROM intake.outbox") == 0
    assert value(await scrape(system.intake.url), "kipp_parked_messages", publisher="outbox-relay") == 1
    listed = run_kipp(database_url, amqp_url, topology, "parked", "list")
    assert listed.returncode == 0, listed.stderr
    assert str(poison.event_id) in listed.stdout
    assert "1 outbox row(s) and 0 announcement(s) parked" in listed.stdout


async def test_an_event_review_cannot_announce_is_parked_and_the_announcements_after_it_go_on(
    intake: AsyncIntakeClient,
    review: httpx.AsyncClient,
    pool: asyncpg.Pool,
    system: System,
    database_url: str,
    amqp_url: str,
    topology: Topology,
) -> None:
    proposal_id = await submit(intake)
    await status_in_review(review, proposal_id, "submitted")
    # History recorded before today's checks is immutable: a decision whose actor no announcement can name
    # and one with a correlation id AMQP cannot carry. Neither may stall the publisher for good.
    store = PostgresEventStore(pool)
    verified = {"at": datetime.now(UTC).isoformat(), "checklist": {}, "notes": ""}
    unnamed = NewEvent(uuid.uuid4(), "ProposalVerified", 2, verified, {"actor": {"name": "somebody"}})
    await store.append(uuid.UUID(proposal_id), 1, [unnamed])
    reviewer = {"id": str(uuid.uuid4()), "name": "Rina", "role": "reviewer"}
    overlong = NewEvent(
        uuid.uuid4(),
        "ProposalValidated",
        1,
        {"at": datetime.now(UTC).isoformat(), "notes": ""},
        {"actor": reviewer, "correlation_id": "é" * 200},
    )
    await store.append(uuid.UUID(proposal_id), 2, [overlong])
    await store.stop()

    await status_in_intake(intake, proposal_id, "validated")  # announced, the event's id as correlation id
    await decide(review, proposal_id, "national-registration", {"sinovik_reference": "SINOVIK-1"})
    await status_in_intake(intake, proposal_id, "registered")
    parked = await pool.fetch("SELECT event_id, reason FROM review.parked_announcements")
    assert [row["event_id"] for row in parked] == [unnamed.event_id]
    assert "actor" in parked[0]["reason"].lower()
    samples = await scrape(system.review.url)
    assert value(samples, "kipp_parked_messages", publisher="status-change-publisher") == 1
    listed = run_kipp(database_url, amqp_url, topology, "parked", "list")
    assert str(unnamed.event_id) in listed.stdout
    await still_flowing(intake, review)


async def test_nothing_published_on_the_broker_without_intakes_signature_is_recorded(
    intake: AsyncIntakeClient,
    review: httpx.AsyncClient,
    pool: asyncpg.Pool,
    amqp_url: str,
    topology: Topology,
) -> None:
    # "The minister" submits a proposal intake never saw, three ways.
    forged = [
        an_intake_event(PROPOSAL_SUBMITTED, uuid.uuid4(), a_proposal(), actor=MINISTER) for _ in range(3)
    ]
    impostor = MessageSigner(Ed25519PrivateKey.generate())
    bodies = [envelope.model_dump_json().encode() for envelope in forged]
    claims_intakes_key = {**impostor.headers(bodies[2]), KEY_ID_HEADER: intake_signer().key_id}
    for envelope, body, headers in zip(
        forged, bodies, [None, impostor.headers(bodies[1]), claims_intakes_key], strict=True
    ):
        await publish_raw(
            amqp_url,
            topology.intake_exchange,
            PROPOSAL_SUBMITTED,
            body,
            str(envelope.event_id),
            headers=headers,
            signed=False,
        )
    reasons = await dead_letter_reasons(amqp_url, topology.review_dead_letter_queue, 3)
    assert sorted(reason.split(":")[0].split(" ")[0] for reason in reasons) == ["bad", "signed", "unsigned"]
    for envelope in forged:
        assert not await recorded(pool, envelope.event_id)
    await still_flowing(intake, review)


async def test_intake_events_that_do_not_say_what_intake_says_are_refused_even_when_signed(
    intake: AsyncIntakeClient,
    review: httpx.AsyncClient,
    pool: asyncpg.Pool,
    amqp_url: str,
    topology: Topology,
) -> None:
    # Were intake's key ever misused: a withdrawal of someone else's proposal without its sequence, a
    # submission by a reviewer, and an actor id no store can keep. Each is dead-lettered, none recorded.
    victim = await submit(intake)
    await status_in_review(review, victim, "submitted")
    withdrawal = an_intake_event(PROPOSAL_WITHDRAWN, uuid.UUID(victim), {"reason": "x"}, sequence=None)
    by_reviewer = an_intake_event(
        PROPOSAL_SUBMITTED,
        uuid.uuid4(),
        a_proposal(),
        actor=Actor(id=uuid.uuid4(), name="R", role=Role.REVIEWER),
    )
    huge_actor = an_intake_event(PROPOSAL_SUBMITTED, uuid.uuid4(), a_proposal())
    body = huge_actor.model_dump_json().replace(f'"{SUBMITTER.id}"', str(2**64)).encode()
    for envelope in (withdrawal, by_reviewer):
        await publish_raw(
            amqp_url,
            topology.intake_exchange,
            envelope.event_type,
            envelope.model_dump_json().encode(),
            str(envelope.event_id),
        )
    await publish_raw(amqp_url, topology.intake_exchange, PROPOSAL_SUBMITTED, body, str(huge_actor.event_id))
    reasons = await dead_letter_reasons(amqp_url, topology.review_dead_letter_queue, 3)
    assert any("no sequence" in reason for reason in reasons), reasons
    assert any("by a reviewer" in reason for reason in reasons), reasons
    assert any("actor.id" in reason for reason in reasons), reasons
    for envelope in (withdrawal, by_reviewer, huge_actor):
        assert not await recorded(pool, envelope.event_id)
    await status_in_review(review, victim, "submitted")
    await still_flowing(intake, review)


async def test_a_forged_status_change_never_reaches_intakes_view(
    intake: AsyncIntakeClient,
    review: httpx.AsyncClient,
    amqp_url: str,
    topology: Topology,
    system: System,
) -> None:
    proposal_id = await submit(intake)
    await status_in_review(review, proposal_id, "submitted")
    await status_in_intake(intake, proposal_id, "submitted")

    def announcement(version: int) -> bytes:
        return (
            Envelope(
                event_id=uuid.uuid4(),
                event_type=PROPOSAL_STATUS_CHANGED,
                schema_version=1,
                proposal_id=uuid.UUID(proposal_id),
                occurred_at=datetime.now(UTC),
                data={"status": "winner", "version": version, "position": 1, "cause": "SelectionRecorded"},
                metadata=EnvelopeMetadata(correlation_id="c", actor=SUBMITTER, source="review"),
            )
            .model_dump_json()
            .encode()
        )

    unsigned = announcement(2147483647)
    # Signed with review's own key (were it misused): a version intake's table cannot hold is refused
    # once, never retried forever.
    review_signer = MessageSigner.from_file(system.review.env["KIPP_REVIEW_SIGNING_KEY_FILE"])
    out_of_range = announcement(2**40)
    await publish_raw(amqp_url, topology.review_exchange, PROPOSAL_STATUS_CHANGED, unsigned, signed=False)
    await publish_raw(
        amqp_url,
        topology.review_exchange,
        PROPOSAL_STATUS_CHANGED,
        out_of_range,
        headers=review_signer.headers(out_of_range),
    )
    reasons = await dead_letter_reasons(amqp_url, topology.intake_dead_letter_queue, 2)
    assert any(reason.startswith("unsigned") for reason in reasons), reasons
    assert any("version" in reason for reason in reasons), reasons
    await asyncio.sleep(0.5)  # nothing else is on its way
    assert await intake.status(proposal_id) == "submitted"
    await still_flowing(intake, review)


async def test_the_services_connect_as_their_own_role_not_the_owner(
    system: System, pool: asyncpg.Pool
) -> None:
    async def sessions() -> list[asyncpg.Record]:
        found = await pool.fetch(
            "SELECT DISTINCT application_name, usename FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name LIKE 'kipp-%'"
        )
        return found if len(found) >= 2 else []

    found = await eventually(sessions)
    assert {(row["application_name"], row["usename"]) for row in found} == {
        ("kipp-intake", "kipp_app"),
        ("kipp-review", "kipp_app"),
    }


async def test_a_second_holder_with_a_taken_name_is_refused_and_rotation_keeps_the_proposals(
    intake: AsyncIntakeClient,
    system: System,
    keys: Keys,
    database_url: str,
    amqp_url: str,
    topology: Topology,
) -> None:
    proposal_id = await submit(intake)  # as the holder "Portal Diskominfo"
    taken = run_kipp(
        database_url,
        amqp_url,
        topology,
        "keys",
        "create",
        "--role",
        "submitter",
        "--name",
        "Portal Diskominfo",
    )
    assert taken.returncode == 2
    assert "exists already" in taken.stderr
    assert "kipp keys rotate" in taken.stderr
    assert len(taken.stderr.strip().splitlines()) == 1
    # A reviewer may share the name: holders are per role.
    other_role = run_kipp(
        database_url,
        amqp_url,
        topology,
        "keys",
        "create",
        "--role",
        "reviewer",
        "--name",
        "Portal Diskominfo",
    )
    assert other_role.returncode == 0, other_role.stderr

    rotated = run_kipp(
        database_url,
        amqp_url,
        topology,
        "keys",
        "rotate",
        "--role",
        "submitter",
        "--name",
        "Portal Diskominfo",
        "--revoke-others",
    )
    assert rotated.returncode == 0, rotated.stderr
    new_key = rotated.stdout.strip().splitlines()[-1]
    async with AsyncIntakeClient(system.intake.url, new_key) as holder:
        assert (await holder.get(proposal_id)).proposal_id == proposal_id
    with pytest.raises(Problem) as revoked:
        await intake.get(proposal_id)
    assert revoked.value.status == 401  # the old key
    async with AsyncIntakeClient(system.intake.url, keys.other_submitter) as other:
        with pytest.raises(Problem) as hidden:
            await other.get(proposal_id)
    assert hidden.value.status == 404


async def test_a_body_without_a_valid_key_is_refused_before_it_is_read(system: System) -> None:
    # Headers announcing 800 KB, then nothing: a service that read the body first would wait for it.
    for authorization in (b"", b"Authorization: Bearer kipp_not-a-key\r\n"):
        reader, writer = await asyncio.open_connection("127.0.0.1", system.intake.port)
        writer.write(
            b"POST /v1/proposals HTTP/1.1\r\nHost: intake\r\nContent-Type: application/json\r\n"
            + authorization
            + b"Content-Length: 800000\r\n\r\n"
        )
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
        writer.close()
        assert status_line.startswith(b"HTTP/1.1 401"), status_line
