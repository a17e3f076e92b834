"""Operating the system: schema migrations, running both services, dead letters."""

import asyncio
import signal
import subprocess
import sys
import time
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import typer

from services.cli import app, with_pool
from services.cli.output import JsonOption, show
from services.dead_letters import connect, list_dead_letters, replay_dead_letters, sources
from services.review.audit import DigestSigner
from shared.contract import Topology
from shared.db import SCHEMAS, ensure_database, migrate
from shared.personal_data.master_key import ensure_master_key
from shared.settings import CommonSettings
from shared.signing import ensure_key_pair, ensure_private_key
from shared.tlog.note import NoteSigner

dead = typer.Typer(help="Dead letters: list them, replay them.", no_args_is_help=True)
app.add_typer(dead, name="dead-letters")


@app.command("migrate")
def migrate_command(
    create_database: bool = typer.Option(False, "--create-database", help="Create the database if missing."),
) -> None:
    """Create or update both services' schemas and their runtime role (idempotent; safe from several
    processes at once), and create the services' signing keys and the master key when missing (never
    replacing one)."""
    settings = CommonSettings()
    url = settings.database_url
    runtime = urlsplit(settings.runtime_database_url)

    async def run() -> list[str]:
        if create_database and await ensure_database(url):
            typer.echo("created the database")
        return await migrate(url, runtime_role=settings.runtime_role, runtime_password=runtime.password)

    applied = asyncio.run(run())
    typer.echo("\n".join(f"applied {name}" for name in applied) or "schema is up to date")
    for service, private, public in (
        ("intake", settings.intake_signing_key_file, settings.intake_public_key_file),
        ("review", settings.review_signing_key_file, settings.review_public_key_file),
    ):
        typer.echo(f"{service} signs messages with key {ensure_key_pair(private, public)} ({public})")
    audit = DigestSigner.from_file(settings.audit_key_file, create=True)
    typer.echo(f"digests are signed with key {audit.key_id} ({Path(settings.audit_key_file).absolute()})")
    master = ensure_master_key(settings.master_key_file)
    typer.echo(
        f"personal data keys are wrapped by master key {master.check_value} ({settings.master_key_file})"
    )
    log_key = NoteSigner(settings.log_origin, ensure_private_key(settings.log_key_file)).verifier
    Path(settings.log_vkey_file).write_text(f"{log_key}\n", encoding="utf-8")
    typer.echo(f"the log {settings.log_origin} signs checkpoints with {log_key} ({settings.log_vkey_file})")


@app.command("run")
def run_command() -> None:
    """Run intake and review side by side until Ctrl-C, then stop both cleanly."""
    asyncio.run(check_dependencies())
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


async def check_dependencies() -> None:
    """The services wait for PostgreSQL and RabbitMQ as long as it takes, which suits an orchestrator
    starting everything at once; at a terminal, one that is missing is better said at once."""
    settings = CommonSettings()
    conn = await asyncpg.connect(settings.database_url)
    try:
        for schema, _ in SCHEMAS:  # each schema records its migrations: UndefinedTable until migrated
            await conn.execute(f"SELECT FROM {schema}.schema_migrations LIMIT 0")
    finally:
        await conn.close()
    await (await connect(settings.amqp_url)).close()


class DeadLetterQueue(StrEnum):
    REVIEW = "review"
    INTAKE = "intake"


QueueOption = typer.Option(
    DeadLetterQueue.REVIEW, "--queue", help="review: intake's events; intake: status changes"
)


@dead.command("list")
def dead_letters_list(queue: DeadLetterQueue = QueueOption, as_json: bool = JsonOption) -> None:
    """Every dead letter in the queue, with why it is there; nothing is taken out."""
    settings = CommonSettings()
    name, _ = sources(Topology(settings.prefix))[queue.value]
    letters = asyncio.run(list_dead_letters(settings.amqp_url, name))
    rows = [
        {
            "message_id": letter.message_id,
            "routing_key": letter.routing_key,
            "replayed": letter.replayed,
            "reason": letter.reason,
        }
        for letter in letters
    ]
    lines = [f"{r['message_id']}  {r['routing_key']}  replayed {r['replayed']}x  {r['reason']}" for r in rows]
    summary = "" if as_json else f"{len(letters)} dead letter(s) in {name}"
    show(rows, lines, as_json=as_json, title=f"Dead letters in {name}", summary=summary)


@dead.command("replay")
def dead_letters_replay(
    queue: DeadLetterQueue = QueueOption,
    message_id: str | None = typer.Option(None, "--id", help="Replay only the message with this id."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Replay at most this many."),
) -> None:
    """Publish dead letters again to where they were first sent, then remove them from the queue. Exit
    status 1 when --id matches none."""
    settings = CommonSettings()
    name, exchange = sources(Topology(settings.prefix))[queue.value]
    replayed = asyncio.run(replay_dead_letters(settings.amqp_url, name, exchange, message_id, limit))
    if message_id is not None and not replayed:
        typer.echo(f"no dead letter {message_id} in {name}", err=True)
        raise typer.Exit(1)
    for letter in replayed:
        typer.echo(f"replayed {letter.message_id} to {exchange} ({letter.routing_key})")
    typer.echo(f"{len(replayed)} dead letter(s) replayed")


parked = typer.Typer(help="What the publishers could never publish, kept aside.", no_args_is_help=True)
app.add_typer(parked, name="parked")


@parked.command("list")
def parked_list(as_json: bool = JsonOption) -> None:
    """Every outbox row the relay parked and every event the status publisher could not announce, with
    the reason. They stay in the database: nothing is lost, and everything behind them went on."""

    async def read(pool: asyncpg.Pool) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
        rows = await pool.fetch(
            "SELECT id, event_id, routing_key, parked_at, reason FROM intake.parked_outbox ORDER BY id"
        )
        events = await pool.fetch(
            "SELECT position, event_id, parked_at, reason FROM review.parked_announcements ORDER BY position"
        )
        return rows, events

    rows, events = with_pool(read)
    parked = [
        *(
            {"where": "intake outbox", "at": r["id"], "event_id": str(r["event_id"]), "reason": r["reason"]}
            for r in rows
        ),
        *(
            {
                "where": "review announcement",
                "at": e["position"],
                "event_id": str(e["event_id"]),
                "reason": e["reason"],
            }
            for e in events
        ),
    ]
    lines = [
        *(
            f"intake outbox row {r['id']}  event {r['event_id']}  {r['routing_key']}  {r['reason']}"
            for r in rows
        ),
        *(f"review event at position {e['position']}  event {e['event_id']}  {e['reason']}" for e in events),
    ]
    summary = "" if as_json else f"{len(rows)} outbox row(s) and {len(events)} announcement(s) parked"
    show(parked, lines, as_json=as_json, title="Parked", summary=summary)
