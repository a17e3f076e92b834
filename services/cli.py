"""The `kipp` command line for operators and auditors. Reads the same KIPP_* settings as the services."""

import asyncio
import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

import asyncpg
import typer

from services.dead_letters import list_dead_letters, replay_dead_letters, sources
from services.review.api.events import ndjson_lines
from services.review.audit import (
    ChainReport,
    DigestRefused,
    DigestSigner,
    verify_against_digest,
    verify_chain,
)
from services.review.eventstore.postgres import PostgresEventStore
from services.review.rebuild import RebuildReport, rebuild_status_projection
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


audit = typer.Typer(help="Proof that history was not altered.", no_args_is_help=True)
app.add_typer(audit, name="audit")
events = typer.Typer(help="The global event feed.", no_args_is_help=True)
app.add_typer(events, name="events")
projections = typer.Typer(help="Projections derived from the events.", no_args_is_help=True)
app.add_typer(projections, name="projections")


async def _head(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT coalesce(max(position), 0) FROM review.events"))


@audit.command("verify")
def audit_verify(
    digest_file: Path | None = typer.Option(None, "--digest", help="A digest from `kipp audit digest`."),
) -> None:
    """Walk the hash chain (up to a digest, if given). Exit status 1 when it does not verify."""
    settings = CommonSettings()
    digest = json.loads(digest_file.read_text()) if digest_file else None

    async def run(pool: asyncpg.Pool) -> ChainReport:
        store = PostgresEventStore(pool)
        total = int(digest["position"]) if digest else await _head(pool)
        with typer.progressbar(length=total, label="verifying", file=sys.stderr) as bar:
            if digest is None:
                return await verify_chain(store.read_all(), progress=bar.update)
            signer = DigestSigner.from_file(settings.audit_key_file)
            return await verify_against_digest(store.read_all(), signer, digest, progress=bar.update)

    try:
        report = with_pool(run)
    except DigestRefused as refused:
        typer.echo(f"digest refused: {refused}", err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(report.as_dict()))
    if not report.intact:
        typer.echo(f"history does NOT verify: first mismatch at position {report.first_mismatch}", err=True)
        raise typer.Exit(1)


@audit.command("digest")
def audit_digest() -> None:
    """Print a signed digest of the head (JSON), to keep outside the system. Needs a verifying chain."""
    settings = CommonSettings()

    async def run(pool: asyncpg.Pool) -> ChainReport:
        return await verify_chain(PostgresEventStore(pool).read_all())

    report = with_pool(run)
    if not report.intact:
        typer.echo(f"history does NOT verify (position {report.first_mismatch}): no digest signed", err=True)
        raise typer.Exit(1)
    signer = DigestSigner.from_file(settings.audit_key_file)
    typer.echo(json.dumps(signer.digest(report.head_position, report.head_hash), indent=2))


@events.command("export")
def events_export(
    after: int = typer.Option(0, "--after", min=0, help="Only events after this position."),
) -> None:
    """Write every event after a position as NDJSON to standard output, in position order."""

    async def run(pool: asyncpg.Pool) -> None:
        async for line in ndjson_lines(PostgresEventStore(pool), after):
            sys.stdout.buffer.write(line)
        sys.stdout.flush()

    with_pool(run)


@projections.command("rebuild")
def projections_rebuild() -> None:
    """Rebuild the status projection from history beside the live one, then swap it in atomically."""

    async def run(pool: asyncpg.Pool) -> RebuildReport:
        with typer.progressbar(length=await _head(pool), label="replaying", file=sys.stderr) as bar:
            return await rebuild_status_projection(pool, progress=bar.update)

    report = with_pool(run)
    typer.echo(
        f"rebuilt the status projection from {report.events} events (up to position {report.position})"
    )


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
    # In their own sessions, so a Ctrl-C in the terminal reaches only this process, which asks each child
    # once, with SIGINT, to stop (uvicorn exits 0 after a graceful shutdown on SIGINT; it re-raises SIGTERM,
    # and a second signal would make it abandon its graceful shutdown).
    children = [
        subprocess.Popen([sys.executable, "-m", f"services.{name}"], start_new_session=True)
        for name in ("intake", "review")
    ]
    stopping = False

    def stop_all(*_: object) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGINT)

    signal.signal(signal.SIGINT, stop_all)
    signal.signal(signal.SIGTERM, stop_all)
    while not stopping and all(child.poll() is None for child in children):
        time.sleep(0.2)
    stop_all()  # one stopped by itself: stop the other too
    codes = [child.wait() for child in children]
    raise typer.Exit(max(codes, key=abs))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
