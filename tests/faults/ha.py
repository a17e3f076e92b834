"""The system beyond one machine, as the HA drill runs it on this one: a three-node RabbitMQ cluster, a
PostgreSQL primary with a synchronous hot standby, and intake and review as processes given the list of
broker nodes and the multi-host database URL (target_session_attrs=read-write)."""

import asyncio
import contextlib
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from shared.db import ensure_database, migrate
from tests.faults.engines import PostgresPair, RabbitCluster
from tests.keys import Keys, make_keys
from tests.processes import ServiceProcess, free_port, service_env


@dataclass
class HaSystem:
    directory: Path
    cluster: RabbitCluster
    databases: PostgresPair
    keys: Keys
    intake: ServiceProcess
    review: ServiceProcess
    engines_seconds: float  # starting the five servers, migrating and replicating
    services_seconds: float


def new_directory() -> Path:
    directory = Path(tempfile.mkdtemp(prefix="kipp-ha-"))
    directory.chmod(0o755)  # PostgreSQL runs as its own user, below this
    return directory


@contextlib.asynccontextmanager
async def ha_system(prefix: str) -> AsyncIterator[HaSystem]:
    directory = new_directory()
    cluster = RabbitCluster(directory / "rabbitmq", uuid.uuid4().hex[:8])
    databases = PostgresPair(directory / "postgresql")
    services: list[ServiceProcess] = []
    try:
        began = time.monotonic()

        async def database() -> Keys:
            await databases.start_primary()
            owner = databases.owner_url()
            await ensure_database(owner)
            await migrate(owner)
            keys = await make_keys(owner)
            await databases.start_standby()
            return keys

        keys, _ = await asyncio.gather(database(), cluster.start())
        engines = time.monotonic() - began
        env = service_env(databases.owner_url(), cluster.url(), prefix, free_port(), free_port())
        review = ServiceProcess("review", env, int(env["KIPP_REVIEW_PORT"]), directory / "review.log")
        intake = ServiceProcess("intake", env, int(env["KIPP_INTAKE_PORT"]), directory / "intake.log")
        services += [review, intake]
        began = time.monotonic()
        for process in services:
            await process.start(within=60)
        yield HaSystem(directory, cluster, databases, keys, intake, review, engines, time.monotonic() - began)
    except BaseException:
        print_log_tails(directory)
        raise
    finally:
        for process in services:
            await process.shut_down()
        cluster.close()
        await databases.close()
        shutil.rmtree(directory, ignore_errors=True)


def print_log_tails(directory: Path, lines: int = 30) -> None:
    """What each server and service said last, for a drill that failed (of the services, their warnings
    and errors)."""
    for log in sorted([*directory.glob("*.log"), *directory.glob("*/*.log"), *directory.glob("*/*/*.log")]):
        with contextlib.suppress(OSError):
            said = log.read_text(errors="replace").splitlines()
            if log.parent == directory:  # intake's or review's JSON lines
                said = [line for line in said if '"level": "info"' not in line]
            print(f"--- {log.relative_to(directory)} (last {min(lines, len(said))} lines)")
            print("\n".join(line[:600] for line in said[-lines:]))
