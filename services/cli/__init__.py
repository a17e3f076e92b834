"""The `kipp` command line for operators and auditors. Reads the same KIPP_* settings as the services.

One module per group of commands: operations (migrate, run, dead letters), keys, audit (verification,
digests, the event export, projection rebuilds), personal data (access and erasure requests).

Exit statuses: 0 done, 1 a command's own refusal (history does not verify, no such key, ...), 2 bad
input or a database or broker that cannot be used; a failure is one line on standard error.
"""

import asyncio
import logging
import os
import re
from collections.abc import Awaitable, Callable
from importlib.metadata import version
from typing import NoReturn, TypeVar
from urllib.parse import urlsplit

import aiormq
import asyncpg
import httpx
import typer

from shared.db import create_pool
from shared.runtime import tune_garbage_collection
from shared.settings import CommonSettings

app = typer.Typer(
    help="KIPP proposal ledger: operate, migrate and audit.",
    no_args_is_help=True,
    # An operator's mistake gets one line from main(); a bug keeps the plain traceback.
    pretty_exceptions_enable=False,
)

T = TypeVar("T")


def _print_version(asked: bool) -> None:
    if asked:
        typer.echo(f"kipp {version('kipp-ledger')}")
        raise typer.Exit()


@app.callback()
def _options(
    show_version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """KIPP proposal ledger: operate, migrate and audit."""


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
    from services.cli import (  # noqa: F401 - registering commands
        audit,
        demo,
        keys,
        operations,
        personal_data,
        verify,
        witness,
    )

    # The broker client logs each failed connection attempt; main() reports the failure once.
    logging.getLogger("aiormq").setLevel(logging.CRITICAL)
    # As the services do: a command that walks the whole history allocates an object or more per event,
    # and at the default thresholds the cyclic collector would rescan every module imported above each
    # time (measured: an eighth of `kipp audit verify`'s time over 50,000 events).
    tune_garbage_collection()
    try:
        # Not standalone: typer hands errors back instead of printing usage errors in a frame of lines.
        status = app(prog_name="kipp", standalone_mode=False)
    except typer.TyperException as error:  # bad input
        # A bare `kipp` or `kipp keys` has printed its help already and comes with no message.
        if message := error.format_message():
            context = getattr(error, "ctx", None)
            fail(f"{message} (see {context.command_path} --help)" if context else message, error.exit_code)
        raise SystemExit(error.exit_code) from None
    except typer.Abort:
        fail("aborted", 1)
    except Exception as error:
        if (line := explain(error)) is None:
            raise  # a bug, not something an operator can fix: the traceback helps then
        fail(line, 2)
    raise SystemExit(status if isinstance(status, int) else 0)


def explain(error: Exception) -> str | None:
    """One line for what an operator can fix: a database or broker that cannot be reached or is not
    ready, the services not running, a file that cannot be read."""
    settings = CommonSettings()
    database, broker = server(settings.database_url, 5432), server(settings.amqp_url, 5672)
    match error:
        case asyncpg.InvalidCatalogNameError():
            return f"{error}; run kipp migrate --create-database"
        case asyncpg.UndefinedTableError() | asyncpg.InvalidSchemaNameError():
            return "the database is not migrated; run kipp migrate"
        case asyncpg.InvalidAuthorizationSpecificationError():
            return f"PostgreSQL at {database} refused the login: {error}"
        case aiormq.exceptions.ProbableAuthenticationError():
            return f"RabbitMQ at {broker} refused the login; check the user and password in KIPP_AMQP_URL"
        case aiormq.exceptions.InvalidFrameError():  # the broker closed the connection instead of opening it
            return f"RabbitMQ at {broker} refused the virtual host of KIPP_AMQP_URL (missing, or not allowed)"
        case aiormq.exceptions.AMQPConnectionError():  # an OSError too: before the PostgreSQL case
            return f"cannot reach RabbitMQ at {broker} ({reason(error)}); is it running?"
        case aiormq.exceptions.ChannelNotFoundEntity():
            return f"RabbitMQ: {error}; start the services once, they declare their exchanges and queues"
        case httpx.TransportError():
            where = server(str(error.request.url), 80)
            return f"cannot reach the services at {where} ({reason(error)}); start them first with make run"
        case OSError(filename=str() as name):
            return f"{name}: {error.strerror}"
        # The broker's and the services' connection errors are matched above: what is left is PostgreSQL's.
        case OSError() | asyncpg.PostgresConnectionError():
            return f"cannot reach PostgreSQL at {database} ({reason(error)}); is it running?"
    return None


def server(url: str, default_port: int) -> str:
    """host:port of a URL: never the user and password that may come before them."""
    address = urlsplit(url).netloc.rpartition("@")[2] or "localhost"
    return address if re.search(r":\d+$", address) else f"{address}:{default_port}"


def without_credentials(url: str) -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl() if "@" in parts.netloc else url


def reason(error: Exception) -> str:
    """Why a connection failed, in a few words: "connection refused", "timed out", the resolver's word."""
    if isinstance(error, TimeoutError | httpx.TimeoutException):
        return "timed out"
    if isinstance(error, OSError) and error.errno:  # a name not resolved has a negative one
        return (os.strerror(error.errno) if error.errno > 0 else str(error.strerror)).lower()
    return re.sub(r"^\[Errno -?\d+\] ", "", str(error)).lower() or type(error).__name__


def fail(line: str, status: int) -> NoReturn:
    typer.echo(f"kipp: {' '.join(line.split())}", err=True)
    raise SystemExit(status)
