"""The `kipp` command line for operators and auditors. Reads the same KIPP_* settings as the services."""

import asyncio
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import TypeVar

import asyncpg
import typer

from services.dead_letters import list_dead_letters, replay_dead_letters, sources
from shared.access import Role, create_key, list_keys, revoke_key
from shared.contract import Topology
from shared.db import create_pool, ensure_database, migrate
from shared.settings import CommonSettings

app = typer.Typer(help="KIPP proposal ledger: operate, migrate and audit.", no_args_is_help=True)
keys = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)
app.add_typer(keys, name="keys")

T = TypeVar("T")


def with_pool(work: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
    async def run() -> T:
        pool = await create_pool(CommonSettings().database_url, min_size=1, max_size=2)
        try:
            return await work(pool)
        finally:
            await pool.close()

    return asyncio.run(run())


dead = typer.Typer(help="Dead letters: list them, replay them.", no_args_is_help=True)
app.add_typer(dead, name="dead-letters")


class DeadLetterQueue(StrEnum):
    REVIEW = "review"
    INTAKE = "intake"


QueueOption = typer.Option(
    DeadLetterQueue.REVIEW, "--queue", help="review: intake's events; intake: status changes"
)


@dead.command("list")
def dead_letters_list(queue: DeadLetterQueue = QueueOption) -> None:
    """Every dead letter in the queue, with why it is there; nothing is taken out."""
    settings = CommonSettings()
    name, _ = sources(Topology(settings.prefix))[queue.value]
    letters = asyncio.run(list_dead_letters(settings.amqp_url, name))
    for letter in letters:
        typer.echo(f"{letter.message_id}  {letter.routing_key}  replayed {letter.replayed}x  {letter.reason}")
    typer.echo(f"{len(letters)} dead letter(s) in {name}")


@dead.command("replay")
def dead_letters_replay(
    queue: DeadLetterQueue = QueueOption,
    message_id: str | None = typer.Option(None, "--id", help="Replay only the message with this id."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Replay at most this many."),
) -> None:
    """Publish dead letters again to where they were first sent, then remove them from the queue."""
    settings = CommonSettings()
    name, exchange = sources(Topology(settings.prefix))[queue.value]
    replayed = asyncio.run(replay_dead_letters(settings.amqp_url, name, exchange, message_id, limit))
    for letter in replayed:
        typer.echo(f"replayed {letter.message_id} to {exchange} ({letter.routing_key})")
    typer.echo(f"{len(replayed)} dead letter(s) replayed")


@keys.command("create")
def keys_create(
    role: Role = typer.Option(..., "--role", help="submitter, reviewer or auditor"),
    name: str = typer.Option(..., "--name", help="Who holds the key: recorded as the actor of its events."),
) -> None:
    """Create a key. The key is printed once, as the last line, and stored only as a hash."""
    key_id, key = with_pool(lambda pool: create_key(pool, role, name))
    typer.echo(f"created {role.value} key {key_id} for {name}")
    typer.echo(key)


@keys.command("list")
def keys_list() -> None:
    """Every key: id, role, holder, created, revoked."""
    records = with_pool(list_keys)
    typer.echo(f"{'id':36}  {'role':9}  {'created':20}  {'revoked':20}  name")
    for r in records:
        revoked = r.revoked_at.strftime("%Y-%m-%dT%H:%M:%SZ") if r.revoked_at else "-"
        created = r.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        typer.echo(f"{r.id!s:36}  {r.role.value:9}  {created:20}  {revoked:20}  {r.name}")


@keys.command("revoke")
def keys_revoke(key_id: uuid.UUID) -> None:
    """Revoke a key; both services refuse it from the next request on."""
    if not with_pool(lambda pool: revoke_key(pool, key_id)):
        typer.echo(f"no active key {key_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {key_id}")


@app.command("migrate")
def migrate_command(
    create_database: bool = typer.Option(False, "--create-database", help="Create the database if missing."),
) -> None:
    """Create or update both services' schemas (idempotent; safe from several processes at once)."""
    url = CommonSettings().database_url

    async def run() -> list[str]:
        if create_database and await ensure_database(url):
            typer.echo("created the database")
        return await migrate(url)

    applied = asyncio.run(run())
    typer.echo("\n".join(f"applied {name}" for name in applied) or "schema is up to date")


@app.command("run")
def run_command() -> None:
    """Run intake and review side by side until Ctrl-C, then stop both cleanly."""
    children = [subprocess.Popen([sys.executable, "-m", f"services.{name}"]) for name in ("intake", "review")]

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM if signum == signal.SIGTERM else signal.SIGINT)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    while all(child.poll() is None for child in children):
        time.sleep(0.2)
    forward(signal.SIGTERM, None)  # one stopped: stop the other too
    codes = [child.wait() for child in children]
    raise typer.Exit(max(codes, key=abs))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
