"""Where the tests find PostgreSQL and RabbitMQ, and how each run gets its own database and broker names.

In order: KIPP_TEST_DATABASE_URL / KIPP_TEST_AMQP_URL when set (CI sets them); else the local services at
their default addresses when they answer; else containers started with testcontainers (a laptop with
Docker). When none of these works the tests fail loudly: they never skip for a missing service.
"""

import contextlib
import os
import socket
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
LOCAL_RABBITMQ = "amqp://guest:guest@127.0.0.1:5672/"


def _answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), timeout=1):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A URL of a PostgreSQL server where the tests may create and drop databases."""
    if url := os.environ.get("KIPP_TEST_DATABASE_URL"):
        yield url
    elif _answers(LOCAL_POSTGRES):
        yield LOCAL_POSTGRES
    else:
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver=None) as container:
            yield container.get_connection_url()


@contextlib.contextmanager
def rabbitmq_server() -> Iterator[str]:
    if url := os.environ.get("KIPP_TEST_AMQP_URL"):
        yield url
    elif _answers(LOCAL_RABBITMQ):
        yield LOCAL_RABBITMQ
    else:
        from testcontainers.rabbitmq import RabbitMqContainer

        with RabbitMqContainer("rabbitmq:3.13-management-alpine") as container:
            params = container.get_connection_params()
            yield f"amqp://guest:guest@{params.host}:{params.port}/"


def database_url(server_url: str, name: str) -> str:
    parts = urlsplit(server_url)
    return parts._replace(path=f"/{name}").geturl()


def unique_name(kind: str) -> str:
    return f"kipp_test_{kind}_{uuid.uuid4().hex[:10]}"


async def delete_broker_names(amqp_url: str, exchanges: list[str], queues: list[str]) -> None:
    import aio_pika

    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        for queue in queues:
            await channel.queue_delete(queue)
        for exchange in exchanges:
            await channel.exchange_delete(exchange)
