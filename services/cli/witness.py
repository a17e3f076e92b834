"""`kipp witness`: run by another party (the province, a neighbouring regency, the ministry), which vouches
that it saw the log's checkpoint and that it extends every one it saw before. It keeps its own state (the
last checkpoint it cosigned) and its own key; it needs no access to the log's database."""

import base64
import time
from pathlib import Path
from typing import NoReturn

import httpx
import typer

from services.cli import app
from shared.signing import ensure_private_key, load_private_key
from shared.tlog.merkle import ProofError, verify_consistency
from shared.tlog.note import Checkpoint, Cosigner, NoteError, VerifierKey, open_note

witness = typer.Typer(help="Cosign the log's checkpoints as an independent witness.", no_args_is_help=True)
app.add_typer(witness, name="witness")

KeyOption = typer.Option(..., "--key", help="The witness's Ed25519 key file (PEM).")
NameOption = typer.Option(..., "--name", help="The witness's name, e.g. babelprov.go.id/witness.")


@witness.command("init")
def witness_init(key: Path = KeyOption, name: str = NameOption) -> None:
    """Create the witness's key (if the file does not exist) and print its verifier key, to publish."""
    typer.echo(Cosigner(name, ensure_private_key(key)).verifier)


@witness.command("cosign")
def witness_cosign(
    review_url: str = typer.Option(
        ..., "--review", help="The log's review service, e.g. http://127.0.0.1:8002"
    ),
    api_key: str = typer.Option(..., "--api-key", help="An auditor key of that service."),
    log_key: str = typer.Option(..., "--log-key", help="The log's verifier key, obtained independently."),
    key: Path = KeyOption,
    name: str = NameOption,
    state: Path = typer.Option(
        ..., "--state", help="Where the witness keeps the last checkpoint it cosigned."
    ),
) -> None:
    """Fetch the log's latest checkpoint, check its signature and that it extends the last one this witness
    cosigned, then cosign it and hand the cosignature to the log. Exit 1 (nothing signed) when it does not."""
    log = VerifierKey.parse(log_key)
    cosigner = Cosigner(name, load_private_key(key))
    with httpx.Client(
        base_url=review_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30
    ) as http:
        note = http.get("/v1/audit/checkpoint").raise_for_status().text
        try:
            checkpoint = Checkpoint.parse(open_note(note, log))
        except NoteError as error:
            _refuse(f"the checkpoint is not signed by the log: {error}")
        last_file = state / "last.checkpoint"
        if last_file.exists():
            last = Checkpoint.parse(open_note(last_file.read_text(encoding="utf-8"), log))
            if last.size > checkpoint.size:
                _refuse(
                    f"the log shows {checkpoint.size} events, fewer than the {last.size} already cosigned"
                )
            answer = http.get("/v1/audit/consistency", params={"first": last.size, "second": checkpoint.size})
            proof = [base64.b64decode(node) for node in answer.raise_for_status().json()["proof"]]
            try:
                verify_consistency(last.size, checkpoint.size, last.root, checkpoint.root, proof)
            except ProofError as error:
                _refuse(
                    f"the checkpoint of {checkpoint.size} does not extend the one of {last.size}: {error}"
                )
        line = cosigner.cosign(checkpoint.text(), int(time.time())).line()
        state.mkdir(parents=True, exist_ok=True)
        last_file.write_text(note, encoding="utf-8")
        http.post(
            "/v1/audit/cosignatures",
            json={"size": checkpoint.size, "vkey": str(cosigner.verifier), "line": line},
        ).raise_for_status()
    typer.echo(f"cosigned the checkpoint of {checkpoint.size} events: {line.strip()}")


def _refuse(reason: str) -> NoReturn:
    typer.echo(f"refused to cosign: {reason}", err=True)
    raise typer.Exit(1)
