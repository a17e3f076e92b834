"""API keys: create (the key is printed once, as the last line), rotate, list, revoke.

A key belongs to a holder, one per role and name. `create` makes a new holder and refuses a name the role
already has (two holders of one name could not be told apart in any record); `rotate` gives an existing
holder another key, and its proposals stay its own.
"""

import uuid

import asyncpg
import typer

from services.cli import app, with_pool
from services.cli.output import JsonOption, show
from shared.access import HolderExists, NoSuchHolder, Role, create_key, list_keys, revoke_key, rotate_key

keys = typer.Typer(help="API keys: create, rotate, list, revoke.", no_args_is_help=True)
app.add_typer(keys, name="keys")


@keys.command("create")
def keys_create(
    role: Role = typer.Option(..., "--role", help="submitter, reviewer or auditor"),
    name: str = typer.Option(..., "--name", help="Who holds the key: recorded as the actor of its events."),
) -> None:
    """Create a holder and its first key. The key is printed once, as the last line, and stored only as a
    hash. A name the role already has is refused: give that holder another key with `rotate`."""
    try:
        key_id, key = with_pool(lambda pool: create_key(pool, role, name))
    except HolderExists:
        typer.echo(
            f"kipp: a {role.value} named {name!r} exists already; for another key of theirs run"
            f" kipp keys rotate --role {role.value} --name {name!r}",
            err=True,
        )
        raise typer.Exit(2) from None
    typer.echo(f"created {role.value} key {key_id} for {name}")
    typer.echo(key)


@keys.command("rotate")
def keys_rotate(
    role: Role = typer.Option(..., "--role", help="submitter, reviewer or auditor"),
    name: str = typer.Option(..., "--name", help="The existing holder's name."),
    revoke_others: bool = typer.Option(False, "--revoke-others", help="Revoke the holder's other keys."),
) -> None:
    """Another key for an existing holder (printed once, as the last line). Its earlier keys keep working
    until revoked; with --revoke-others they stop at once."""

    async def rotate(pool: asyncpg.Pool) -> tuple[uuid.UUID, str, list[uuid.UUID]]:
        key_id, key = await rotate_key(pool, role, name)
        revoked = []
        if revoke_others:
            for record in await list_keys(pool):
                same_holder = record.role == role and record.name == name and record.id != key_id
                if same_holder and record.revoked_at is None and await revoke_key(pool, record.id):
                    revoked.append(record.id)
        return key_id, key, revoked

    try:
        key_id, key, revoked = with_pool(rotate)
    except NoSuchHolder:
        typer.echo(f"kipp: no {role.value} named {name!r}; create one with kipp keys create", err=True)
        raise typer.Exit(2) from None
    for old in revoked:
        typer.echo(f"revoked {old}")
    typer.echo(f"created {role.value} key {key_id} for {name}")
    typer.echo(key)


@keys.command("list")
def keys_list(as_json: bool = JsonOption) -> None:
    """Every key: id, role, created, revoked, its holder's id and name."""
    records = with_pool(list_keys)
    rows = [
        {
            "id": str(r.id),
            "role": r.role.value,
            "created": r.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "revoked": r.revoked_at.strftime("%Y-%m-%dT%H:%M:%SZ") if r.revoked_at else None,
            "holder_id": str(r.holder_id),
            "holder": r.name,
        }
        for r in records
    ]
    header = f"{'id':36}  {'role':9}  {'created':20}  {'revoked':20}  {'holder':36}  name"
    lines = [
        f"{r['id']:36}  {r['role']:9}  {r['created']:20}  {r['revoked'] or '-':20}"
        f"  {r['holder_id']:36}  {r['holder']}"
        for r in rows
    ]
    show(rows, [header, *lines], as_json=as_json, title="API keys")


@keys.command("revoke")
def keys_revoke(key_id: uuid.UUID) -> None:
    """Revoke a key; both services refuse it from the next request on."""
    if not with_pool(lambda pool: revoke_key(pool, key_id)):
        typer.echo(f"no active key {key_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {key_id}")
