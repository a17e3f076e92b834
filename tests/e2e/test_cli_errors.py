"""Every `kipp` command, on bad input or with PostgreSQL, RabbitMQ or the services out of reach, fails with
one line on standard error and exit status 2: never a traceback, never a password."""

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import asyncpg
import pytest

from shared.contract import Topology
from tests import services
from tests.processes import free_port

PASSWORD = "s3cret-never-shown"
A_KEY_ID = "2a0e0f3c-7a9e-4a36-9c44-0e5f2b6a8d11"

# Each command that uses the database, with arguments that would be fine with a database to use.
ON_THE_DATABASE = [
    ("keys", "list"),
    ("keys", "create", "--role", "auditor", "--name", "Inspektorat Kabupaten Bangka Barat"),
    ("keys", "revoke", A_KEY_ID),
    ("audit", "verify"),
    ("audit", "digest"),
    ("events", "export"),
    ("projections", "rebuild"),
    ("run",),
    ("demo",),
]


def kipp(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    """The single line the command printed on standard error, after checking that is all it said."""
    said = done.stdout + done.stderr
    assert done.returncode == 2, said
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in said
    assert PASSWORD not in said
    assert lines[0].startswith("kipp: ")
    return lines[0]


def with_password(url: str) -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=f"{parts.username}:{PASSWORD}@{parts.hostname}:{parts.port}").geturl()


def showing_a_password(url: str) -> str:
    """The URL with PASSWORD in it, to see it is never printed; unless it has a password of its own
    (the test server trusts local connections then, and ignores it)."""
    return url if urlsplit(url).password else with_password(url)


@pytest.fixture
async def unmigrated_database_url(postgres_server_url: str) -> AsyncIterator[str]:
    name = services.unique_name("empty")
    admin = await asyncpg.connect(postgres_server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield services.database_url(postgres_server_url, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.mark.parametrize("command", [*ON_THE_DATABASE, ("migrate",), ("migrate", "--create-database")])
def test_postgresql_out_of_reach(command: tuple[str, ...]) -> None:
    port = free_port()
    env = {"KIPP_DATABASE_URL": f"postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/kipp"}
    assert one_line(kipp(env, *command)) == (
        f"kipp: cannot reach PostgreSQL at 127.0.0.1:{port} (connection refused); is it running?"
    )


@pytest.mark.parametrize("command", [("dead-letters", "list"), ("dead-letters", "replay"), ("run",)])
async def test_rabbitmq_out_of_reach(command: tuple[str, ...], database_url: str) -> None:
    port = free_port()
    env = {
        "KIPP_DATABASE_URL": showing_a_password(database_url),
        "KIPP_AMQP_URL": f"amqp://guest:{PASSWORD}@127.0.0.1:{port}/",
    }
    done = await asyncio.to_thread(kipp, env, *command)
    assert one_line(done) == (
        f"kipp: cannot reach RabbitMQ at 127.0.0.1:{port} (connection refused); is it running?"
    )


async def test_rabbitmq_refusing_the_password(amqp_url: str, topology: Topology) -> None:
    env = {"KIPP_AMQP_URL": with_password(amqp_url), "KIPP_PREFIX": topology.prefix}
    done = await asyncio.to_thread(kipp, env, "dead-letters", "list")
    assert "refused the login" in one_line(done)


async def test_dead_letter_queue_not_declared_yet(amqp_url: str, topology: Topology) -> None:
    env = {"KIPP_AMQP_URL": amqp_url, "KIPP_PREFIX": topology.prefix}
    done = await asyncio.to_thread(kipp, env, "dead-letters", "list")
    line = one_line(done)
    assert topology.review_dead_letter_queue in line
    assert line.endswith("start the services once, they declare their exchanges and queues")


@pytest.mark.parametrize(
    "command", [("keys", "list"), ("audit", "verify"), ("events", "export"), ("migrate",)]
)
async def test_database_that_does_not_exist(command: tuple[str, ...], postgres_server_url: str) -> None:
    name = services.unique_name("missing")
    env = {"KIPP_DATABASE_URL": showing_a_password(services.database_url(postgres_server_url, name))}
    done = await asyncio.to_thread(kipp, env, *command)
    assert one_line(done) == (f'kipp: database "{name}" does not exist; run kipp migrate --create-database')


@pytest.mark.parametrize("command", ON_THE_DATABASE)
async def test_database_not_migrated(command: tuple[str, ...], unmigrated_database_url: str) -> None:
    env = {"KIPP_DATABASE_URL": showing_a_password(unmigrated_database_url)}
    done = await asyncio.to_thread(kipp, env, *command)
    assert one_line(done) == ("kipp: the database is not migrated; run kipp migrate")


def test_a_key_id_that_is_not_a_uuid() -> None:
    env = {"KIPP_DATABASE_URL": f"postgresql://postgres:{PASSWORD}@127.0.0.1:{free_port()}/kipp"}
    line = one_line(kipp(env, "keys", "revoke", "not-a-uuid"))
    assert "Invalid value for 'key_id'" in line
    assert line.endswith("(see kipp keys revoke --help)")


async def test_demo_with_the_services_down(database_url: str) -> None:
    intake_port = free_port()
    env = {
        "KIPP_DATABASE_URL": showing_a_password(database_url),
        "KIPP_INTAKE_PORT": str(intake_port),
        "KIPP_REVIEW_PORT": str(free_port()),
    }
    done = await asyncio.to_thread(kipp, env, "demo")
    assert one_line(done) == (
        f"kipp: cannot reach the services at 127.0.0.1:{intake_port} (connection refused);"
        " start them first with make run"
    )
