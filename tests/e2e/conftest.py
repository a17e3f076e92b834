"""Both services as real processes on free ports, against this test's database and broker names."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from kipp_client import AsyncIntakeClient

from shared.contract import Topology
from tests.keys import Keys, bearer
from tests.processes import ServiceProcess, free_port, service_env


@dataclass
class System:
    intake: ServiceProcess
    review: ServiceProcess


@pytest.fixture
async def system(
    database_url: str, amqp_url: str, topology: Topology, tmp_path: Path
) -> AsyncIterator[System]:
    env = service_env(database_url, amqp_url, topology.prefix, free_port(), free_port())
    review = ServiceProcess("review", env, int(env["KIPP_REVIEW_PORT"]), tmp_path / "review.log")
    intake = ServiceProcess("intake", env, int(env["KIPP_INTAKE_PORT"]), tmp_path / "intake.log")
    try:
        await review.start()
        await intake.start()
        yield System(intake, review)
    finally:
        await intake.shut_down()
        await review.shut_down()


@pytest.fixture
async def intake(system: System, keys: Keys) -> AsyncIterator[AsyncIntakeClient]:
    """Intake, as the first submitter's system uses it: through the typed client."""
    async with AsyncIntakeClient(system.intake.url, keys.submitter, timeout=10) as client:
        yield client


@pytest.fixture
async def intake_http(system: System, keys: Keys) -> AsyncIterator[httpx.AsyncClient]:
    """Intake over plain HTTP, as the first submitter: for requests the typed client does not send
    (malformed or oversized bodies, forged headers, a key reused for another body)."""
    async with httpx.AsyncClient(
        base_url=system.intake.url, timeout=10, headers=bearer(keys.submitter)
    ) as client:
        yield client


@pytest.fixture
async def review(system: System, keys: Keys) -> AsyncIterator[httpx.AsyncClient]:
    """Review, as the first reviewer."""
    async with httpx.AsyncClient(
        base_url=system.review.url, timeout=10, headers=bearer(keys.reviewer)
    ) as client:
        yield client
