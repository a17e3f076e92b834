"""How the CLI prints data: a table for a person at a terminal, plain columns for a pipe, JSON on demand."""

import json
import sys
from collections.abc import Sequence
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

JsonOption = typer.Option(False, "--json", help="Print JSON (one array of objects) instead of a table.")


def show(
    rows: Sequence[dict[str, Any]], plain: Sequence[str], *, as_json: bool, title: str = "", summary: str = ""
) -> None:
    """`rows` as JSON, as a table (standard output is a terminal), or as the `plain` lines (a pipe or a
    file: stable for scripts)."""
    if as_json:
        typer.echo(json.dumps(list(rows), default=str, ensure_ascii=False))
        return
    if sys.stdout.isatty() and rows:
        table = Table(title=title or None)
        for column in rows[0]:
            table.add_column(column.replace("_", " "))
        for row in rows:
            table.add_row(*(str(value) if value is not None else "-" for value in row.values()))
        Console().print(table)
    else:
        for line in plain:
            typer.echo(line)
    if summary:
        typer.echo(summary)
