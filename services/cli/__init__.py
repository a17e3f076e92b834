"""The `kipp` command line for operators and auditors. Reads the same KIPP_* settings as the services.

One module per group of commands: operations (migrate, run, dead letters), keys, audit (verification,
digests, the event export, projection rebuilds).
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
import typer

from shared.db import create_pool
from shared.settings import CommonSettings

app = typer.Typer(help="KIPP proposal ledger: operate, migrate and audit.", no_args_is_help=True)

T = TypeVar("T")


def with_pool(work: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
    """Runs `work` with a small pool on the configured database."""

    async def run() -> T:
        pool = await create_pool(CommonSettings().database_url, min_size=1, max_size=3)
        try:
            return await work(pool)
        finally:
            await pool.close()

    return asyncio.run(run())


def main() -> None:
    from services.cli import audit, demo, keys, operations  # noqa: F401 - registering the commands

    app()
