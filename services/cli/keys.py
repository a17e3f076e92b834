"""API keys: create (the key is printed once, as the last line), list, revoke."""

import uuid

import typer

from services.cli import app, with_pool
from shared.access import Role, create_key, list_keys, revoke_key

keys = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)
app.add_typer(keys, name="keys")


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
