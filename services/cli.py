"""The `kipp` command line for operators and auditors. Reads the same KIPP_* settings as the services."""

import asyncio
import signal
import subprocess
import sys
import time

import typer

from shared.db import ensure_database, migrate
from shared.settings import CommonSettings

app = typer.Typer(help="KIPP proposal ledger: operate, migrate and audit.", no_args_is_help=True)


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
