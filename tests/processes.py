"""The services as real processes (`python -m services.intake|review`), started and stopped by tests."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def service_env(
    database_url: str, amqp_url: str, prefix: str, intake_port: int, review_port: int
) -> dict[str, str]:
    return {
        **os.environ,
        "KIPP_DATABASE_URL": database_url,
        "KIPP_AMQP_URL": amqp_url,
        "KIPP_PREFIX": prefix,
        "KIPP_INTAKE_PORT": str(intake_port),
        "KIPP_REVIEW_PORT": str(review_port),
        # Each log keeps its own checkpoints: two databases' logs of one size have different roots.
        "KIPP_CHECKPOINT_DIR": tempfile.mkdtemp(prefix="kipp-checkpoints-"),
    }


@dataclass
class ServiceProcess:
    name: str  # "intake" or "review"
    env: dict[str, str]
    port: int
    log_path: Path | None = None  # where its standard output (its JSON log) goes; inherited when None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def launch(self) -> None:
        env = {**self.env, f"KIPP_{self.name.upper()}_PORT": str(self.port)}
        command = [sys.executable, "-m", f"services.{self.name}"]
        if self.log_path is None:
            self.process = subprocess.Popen(command, env=env)
        else:
            with self.log_path.open("ab") as log:
                self.process = subprocess.Popen(command, env=env, stdout=log)

    async def start(self, within: float = 30) -> None:
        """Launches the process and waits (without blocking the event loop) until /readyz says ready."""
        self.launch()
        await self.wait_ready(within)

    async def wait_ready(self, within: float = 30) -> None:
        assert self.process is not None
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(timeout=1) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"{self.name} exited with {self.process.returncode} before it was ready"
                    )
                try:
                    if (await client.get(f"{self.url}/readyz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} was not ready within {within} s")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flushing, exactly like a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    async def shut_down(self, within: float = 20) -> None:
        """SIGTERM and wait, without blocking the event loop (a proxy in this loop may carry its goodbyes)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            await asyncio.to_thread(self.process.wait, within)
        except subprocess.TimeoutExpired:
            self.kill()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
