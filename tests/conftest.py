"""Fixtures shared by every tier: real PostgreSQL and RabbitMQ, isolated per run and cleaned up."""

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from shared.contract import Topology
from shared.db import create_pool, migrate
from shared.personal_data.master_key import ensure_master_key
from shared.signing import ensure_key_pair, ensure_private_key
from shared.tlog.note import NoteSigner
from tests import services
from tests.fixtures import reopened_2023
from tests.keys import Keys, make_keys


@pytest.fixture(scope="session", autouse=True)
def audit_signing_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The services and the CLI in this run sign digests with a key of the run's own, not the repo's."""
    path = str(tmp_path_factory.mktemp("audit") / "signing-key.pem")
    previous = os.environ.get("KIPP_AUDIT_KEY_FILE")
    os.environ["KIPP_AUDIT_KEY_FILE"] = path
    yield path
    if previous is None:
        del os.environ["KIPP_AUDIT_KEY_FILE"]
    else:
        os.environ["KIPP_AUDIT_KEY_FILE"] = previous


@pytest.fixture(scope="session", autouse=True)
def signing_keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Intake's and review's message keys, the log's key and the master key for this run (as `kipp migrate`
    creates them), named to the services, the CLI and the tests through the environment, and a checkpoint
    directory."""
    folder = tmp_path_factory.mktemp("signing")
    variables = {}
    for service in ("intake", "review"):
        private, public = folder / f"{service}-signing-key.pem", folder / f"{service}-signing-key.pub"
        ensure_key_pair(private, public)
        variables[f"KIPP_{service.upper()}_SIGNING_KEY_FILE"] = str(private)
        variables[f"KIPP_{service.upper()}_PUBLIC_KEY_FILE"] = str(public)
    log_key = NoteSigner("test.kipp.local/log", ensure_private_key(folder / "log-signing-key.pem")).verifier
    (folder / "log-key.vkey").write_text(f"{log_key}\n", encoding="utf-8")
    variables["KIPP_LOG_VKEY_FILE"] = str(folder / "log-key.vkey")
    variables["KIPP_LOG_KEY_FILE"] = str(folder / "log-signing-key.pem")
    variables["KIPP_CHECKPOINT_DIR"] = str(folder / "checkpoints")
    variables["KIPP_LOG_ORIGIN"] = "test.kipp.local/log"
    # The master key that wraps the personal data keys, as `kipp migrate` creates it.
    ensure_master_key(folder / "master-key")
    variables["KIPP_MASTER_KEY_FILE"] = str(folder / "master-key")
    previous = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    yield folder
    for name, value in previous.items():
        if value is None:
            del os.environ[name]
        else:
            os.environ[name] = value


@pytest.fixture(scope="session", autouse=True)
def rounds_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The 2023 round reopened for the tests. KIPP 2023 closed on 2023-05-06, and the tests submit its
    proposals today, so they extend it explicitly, as an operator would: a kipp-2023.json with a later
    closing day in a directory named by KIPP_ROUNDS_DIR, which the services (as processes or in this
    process) and the CLI read. Tests of the round window itself set their own rounds."""
    directory = tmp_path_factory.mktemp("rounds")
    (directory / "kipp-2023.json").write_text(reopened_2023().model_dump_json(indent=2), encoding="utf-8")
    previous = os.environ.get("KIPP_ROUNDS_DIR")
    os.environ["KIPP_ROUNDS_DIR"] = str(directory)
    yield str(directory)
    if previous is None:
        del os.environ["KIPP_ROUNDS_DIR"]
    else:
        os.environ["KIPP_ROUNDS_DIR"] = previous


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    with services.postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    with services.rabbitmq_server() as url:
        yield url


@pytest.fixture(scope="session")
async def template_database(postgres_server_url: str) -> AsyncIterator[str]:
    """A migrated database that each test's database is copied from (CREATE DATABASE ... TEMPLATE)."""
    name = services.unique_name("template")
    admin = await asyncpg.connect(postgres_server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        await migrate(services.database_url(postgres_server_url, name))
        yield name
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def database_url(postgres_server_url: str, template_database: str) -> AsyncIterator[str]:
    """A fresh, migrated, empty database for one test, dropped afterwards."""
    name = services.unique_name("db")
    admin = await asyncpg.connect(postgres_server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
        yield services.database_url(postgres_server_url, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def topology(amqp_url: str) -> AsyncIterator[Topology]:
    """Broker names no other test or run uses; deleted afterwards."""
    topology = Topology(prefix=f"kipptest-{uuid.uuid4().hex[:10]}")
    try:
        yield topology
    finally:
        await services.delete_broker_names(amqp_url, topology.all_exchanges(), topology.all_queues())


@pytest.fixture
async def keys(database_url: str) -> Keys:
    """One key of each role (two submitters, two reviewers) and a revoked one, in this test's database."""
    return await make_keys(database_url)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from tests.faults.harness import REPORT

    if REPORT:
        terminalreporter.section("fault drills")
        for line in REPORT:
            terminalreporter.write_line(line)
