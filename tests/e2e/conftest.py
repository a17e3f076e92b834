"""Both services as real processes (`python -m services.intake|review`) on free ports."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest

from shared.contract import Topology
from tests.keys import Keys, bearer


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Service:
    process: subprocess.Popen[bytes]
    url: str

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def wait_until_ready(url: str, process: subprocess.Popen[bytes], within: float = 30) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode} before {url} was ready")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} was not ready within {within} s")


def start_service(name: str, env: dict[str, str], port: int) -> Service:
    process = subprocess.Popen([sys.executable, "-m", f"services.{name}"], env=env)
    service = Service(process, f"http://127.0.0.1:{port}")
    try:
        wait_until_ready(service.url, process)
    except Exception:
        service.stop()
        raise
    return service


@dataclass
class System:
    intake: Service
    review: Service


@pytest.fixture
def system(database_url: str, amqp_url: str, topology: Topology) -> Iterator[System]:
    intake_port, review_port = free_port(), free_port()
    env = {
        **os.environ,
        "KIPP_DATABASE_URL": database_url,
        "KIPP_AMQP_URL": amqp_url,
        "KIPP_PREFIX": topology.prefix,
        "KIPP_INTAKE_PORT": str(intake_port),
        "KIPP_REVIEW_PORT": str(review_port),
    }
    review = start_service("review", env, review_port)
    try:
        intake = start_service("intake", env, intake_port)
    except Exception:
        review.stop()
        raise
    try:
        yield System(intake, review)
    finally:
        intake.stop()
        review.stop()


@pytest.fixture
async def intake(system: System, keys: Keys) -> AsyncIterator[httpx.AsyncClient]:
    """Intake, as the first submitter."""
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
