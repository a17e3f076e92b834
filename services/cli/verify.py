"""`kipp verify`: checks offline, with no database, no network and no private key."""

import json
from pathlib import Path

import typer

from services.cli import app
from shared.tlog.verify import VerificationFailed, verify_certificate, verify_export

verify = typer.Typer(
    help="Verify proofs offline: no database, no network, no private key.", no_args_is_help=True
)
app.add_typer(verify, name="verify")


@verify.command("certificate")
def verify_certificate_command(
    file: Path = typer.Argument(..., help="A certificate from GET /v1/proposals/{id}/certificate."),
    log_key: str = typer.Option(..., "--log-key", help="The log's verifier key, obtained independently."),
) -> None:
    """Check a priority certificate. Exit status 1, naming what failed, when it does not verify."""
    try:
        certificate = json.loads(file.read_text(encoding="utf-8"))
        if not isinstance(certificate, dict):
            raise ValueError("not a JSON object")
    except ValueError as error:
        typer.echo(f"kipp: {file}: not a certificate ({error})", err=True)
        raise typer.Exit(2) from None
    try:
        checkpoint = verify_certificate(certificate, log_key)
    except VerificationFailed as failed:
        typer.echo(f"certificate does NOT verify: {failed}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"certificate verified: proposal {certificate['proposal_id']} recorded at position"
        f" {certificate['position']} ({certificate['recorded_at']}), in the checkpoint of {checkpoint.size}"
        f" events signed by {checkpoint.origin}"
    )


@verify.command("export")
def verify_export_command(
    ledger: Path = typer.Argument(..., help="An NDJSON export from `kipp events export` or GET /v1/events."),
    checkpoint: Path = typer.Option(..., "--checkpoint", help="A signed checkpoint of the log."),
    log_key: str = typer.Option(..., "--log-key", help="The log's verifier key, obtained independently."),
) -> None:
    """Check an export against a signed checkpoint: every event's hash, and the Merkle root over the events
    the checkpoint covers. Exit status 1 naming the position, event and proposal where it fails."""
    try:
        with ledger.open(encoding="utf-8") as lines:
            signed = verify_export(lines, checkpoint.read_text(encoding="utf-8"), log_key)
    except VerificationFailed as failed:
        typer.echo(f"export does NOT verify: {failed}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"export verified: its first {signed.size} events are the ones {signed.origin} signed")
