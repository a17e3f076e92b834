"""Running the real services in the test process (lifespan and all), on the test database and broker."""

import asyncio
import contextlib
import json
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import aio_pika
import httpx
from fastapi import FastAPI

from services.intake.app import create_app as create_intake
from services.intake.settings import IntakeSettings
from services.review.app import create_app as create_review
from services.review.settings import ReviewSettings
from shared.contract import Envelope, Topology
from shared.signing import MessageSigner

T = TypeVar("T")


@contextlib.asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


def review_app(database_url: str, amqp_url: str, topology: Topology) -> FastAPI:
    settings = ReviewSettings(
        database_url=database_url,
        amqp_url=amqp_url,
        prefix=topology.prefix,
        checkpoint_dir=tempfile.mkdtemp(prefix="kipp-checkpoints-"),  # each log keeps its own
    )
    return create_review(settings)


def intake_app(database_url: str, amqp_url: str, topology: Topology) -> FastAPI:
    return create_intake(IntakeSettings(database_url=database_url, amqp_url=amqp_url, prefix=topology.prefix))


async def eventually(probe: Callable[[], Awaitable[T | None]], within: float = 10.0) -> T:
    """Polls until `probe` returns something truthy, and returns it; fails after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing after {within} s (last: {result!r})")
        await asyncio.sleep(0.05)


def intake_signer() -> MessageSigner:
    """Intake's signing key in this test run (see the signing_keys fixture)."""
    return MessageSigner.from_file(IntakeSettings().intake_signing_key_file)


async def publish_raw(
    amqp_url: str,
    exchange: str,
    routing_key: str,
    body: bytes,
    message_id: str | None = None,
    headers: dict[str, Any] | None = None,
    signed: bool = True,
) -> None:
    """Publishes `body` as given, signed with intake's key unless `signed` is False or `headers` say
    otherwise: what anyone with access to the broker could publish."""
    if headers is None and signed:
        headers = intake_signer().headers(body)
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        target = await channel.get_exchange(exchange)
        message = aio_pika.Message(
            body,
            headers=headers,
            message_id=message_id,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        await target.publish(message, routing_key=routing_key)


async def publish_envelope(
    amqp_url: str, topology: Topology, envelope: Envelope, signer: MessageSigner | None = None
) -> None:
    """Publishes as intake does: signed with intake's key (or `signer`)."""
    body = envelope.model_dump_json().encode()
    headers = (signer or intake_signer()).headers(body)  # as intake's relay signs what it publishes
    await publish_raw(
        amqp_url, topology.intake_exchange, envelope.event_type, body, str(envelope.event_id), headers
    )


async def drain_queue(amqp_url: str, queue: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Takes every message currently in `queue` (acknowledging them)."""
    taken = []
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        source = await channel.get_queue(queue)
        while (message := await source.get(fail=False)) is not None:
            await message.ack()
            taken.append(message)
    return taken


async def queue_depth(amqp_url: str, queue: str) -> int:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        count = declared.declaration_result.message_count
        return int(count or 0)


def body_of(message: aio_pika.abc.AbstractIncomingMessage) -> Any:
    return json.loads(message.body)
