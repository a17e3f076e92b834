"""Auditors' commands: verify the chain (against a digest), take a digest, export the feed, rebuild."""

import json
import sys
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import asyncpg
import typer
from pydantic import ValidationError

from services.cli import app, fail, with_pool
from services.review.audit import (
    ChainReport,
    Digest,
    DigestRefused,
    DigestSigner,
    DigestVerifier,
    verify_against_digest,
    verify_chain,
)
from services.review.eventstore.base import RecordedEvent
from services.review.eventstore.postgres import PostgresEventStore
from services.review.log_audit import LogReport, kept_checkpoints, published_key, verify_against_checkpoints
from services.review.rebuild import RebuildReport, rebuild_status_projection
from services.review.resemblance.rebuild import rebuild_resemblances
from services.review.views import ndjson_lines
from shared.settings import CommonSettings
from shared.signing import KeyFileMissing
from shared.streams import read_once
from shared.tlog.note import Checkpoint, NoteError, VerifierKey
from shared.tlog.tiles import LeafTiles
from shared.validation import refusal

audit = typer.Typer(help="Proof that history was not altered.", no_args_is_help=True)
app.add_typer(audit, name="audit")
events = typer.Typer(help="The global event feed.", no_args_is_help=True)
app.add_typer(events, name="events")
projections = typer.Typer(help="Projections derived from the events.", no_args_is_help=True)
app.add_typer(projections, name="projections")


async def _head(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT coalesce(max(position), 0) FROM review.events"))


def _read_digest(path: Path) -> Digest:
    """The digest in `path`; exits 2 with one line saying why when the file does not hold one."""
    try:
        return Digest.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError) as error:
        why = f"cannot be read ({error})"
    except ValidationError as error:
        why = refusal(error, "the file")
    except ValueError as error:  # JSONDecodeError
        why = f"not JSON ({error})"
    typer.echo(f"{path}: not a digest: {why}", err=True)
    raise typer.Exit(2)


def _digest_verifier(digest: Digest, digest_key: str | None) -> DigestVerifier:
    """The public key to check a digest with: the one given (a file or the key itself), else the one the
    digest carries. Never a private key, so no key file is read or created by verifying."""
    if digest_key is None:
        try:
            verifier = DigestVerifier.carried_by(digest)
        except DigestRefused as refused:
            typer.echo(f"digest refused: {refused}", err=True)
            raise typer.Exit(1) from None
        typer.echo(
            f"checking the digest with the public key it carries (key id {verifier.key_id}); --digest-key"
            " checks it against a key you hold",
            err=True,
        )
        return verifier
    path = Path(digest_key)
    try:
        text = path.read_text(encoding="utf-8") if path.is_file() else digest_key
        return DigestVerifier.parse(text)
    except (ValueError, UnicodeDecodeError) as error:
        typer.echo(f"--digest-key: not an Ed25519 public key ({error})", err=True)
        raise typer.Exit(2) from None


@audit.command("verify")
def audit_verify(
    digest_file: Path | None = typer.Option(None, "--digest", help="A digest from `kipp audit digest`."),
    digest_key: str | None = typer.Option(
        None,
        "--digest-key",
        help="The public key the digest must be signed with: base64 of the raw Ed25519 key (a digest's"
        " public_key) or a PEM public key file (default: the key the digest carries).",
    ),
    log_key: str | None = typer.Option(
        None, "--log-key", help="The log's verifier key (default: the file kipp migrate wrote)."
    ),
) -> None:
    """Walk the hash chain (up to a digest, if given), then compare the history with every checkpoint the
    log signed and kept outside the database. Exit status 1 when either does not verify, 2 when the
    digest file is not a digest."""
    settings = CommonSettings()
    digest = _read_digest(digest_file) if digest_file else None
    verifier = _digest_verifier(digest, digest_key) if digest else None

    kept = _kept_checkpoints(settings, log_key) if digest is None else None

    async def run(pool: asyncpg.Pool) -> tuple[ChainReport, LogReport | None]:
        total = digest.position if digest else await _head(pool)
        with typer.progressbar(length=total, label="verifying", file=sys.stderr) as bar:
            if digest is not None and verifier is not None:
                chain = verify_against_digest(
                    PostgresEventStore(pool).read_all(), verifier, digest, progress=bar.update
                )
                return await chain, None

            def chain_check(events: AsyncIterator[RecordedEvent]) -> Awaitable[ChainReport]:
                return verify_chain(events, progress=bar.update)

            if kept is None:
                return await chain_check(PostgresEventStore(pool).read_all()), None
            tiles = LeafTiles(settings.checkpoint_dir)

            def log_check(events: AsyncIterator[RecordedEvent]) -> Awaitable[LogReport]:
                return verify_against_checkpoints(events, kept, tiles)

            return await read_once(PostgresEventStore(pool).read_all(), chain_check, log_check)

    try:
        report, log = with_pool(run)
    except DigestRefused as refused:
        typer.echo(f"digest refused: {refused}", err=True)
        raise typer.Exit(1) from None
    answer = report.as_dict()
    if verifier is not None:
        answer["digest_key_id"] = verifier.key_id
    # Also when the chain is broken: the checkpoints then name the event and the proposal changed.
    if log is not None:
        answer["intact"], answer["log"] = report.intact and log.intact, log.as_dict()
    typer.echo(json.dumps(answer))
    if log is not None and log.tiles_problem:
        typer.echo(f"note: {log.tiles_problem}", err=True)
    if not report.intact:
        typer.echo(f"history does NOT verify: first mismatch at position {report.first_mismatch}", err=True)
    if log is not None and not log.intact:
        typer.echo(f"history does NOT match the log's checkpoints: {log.reason}", err=True)
    if not answer["intact"]:
        raise typer.Exit(1)


def _kept_checkpoints(settings: CommonSettings, log_key: str | None) -> list[Checkpoint] | None:
    """Every checkpoint the log signed and kept outside the database, each checked against the log's
    published key: the history is compared with them (a tail cut off, or history rewritten even with the
    chain recomputed, is found there). None without the log's key."""
    try:
        key = VerifierKey.parse(log_key) if log_key else published_key(settings.log_vkey_file)
    except NoteError as error:
        typer.echo(f"--log-key or {settings.log_vkey_file}: {error}", err=True)
        raise typer.Exit(1) from None
    if key is None:
        typer.echo("no log key to check kept checkpoints with (--log-key, or run kipp migrate)", err=True)
        return None
    try:
        return kept_checkpoints(settings.checkpoint_dir, key)
    except NoteError as error:
        typer.echo(f"kept checkpoint does NOT verify: {error}", err=True)
        raise typer.Exit(1) from None


@audit.command("digest")
def audit_digest() -> None:
    """Print a signed digest of the head (JSON), to keep outside the system. Needs a verifying chain.
    Superseded by the log's signed checkpoints (kept in KIPP_CHECKPOINT_DIR; `GET /v1/audit/checkpoint`)."""
    settings = CommonSettings()

    async def run(pool: asyncpg.Pool) -> ChainReport:
        return await verify_chain(PostgresEventStore(pool).read_all())

    report = with_pool(run)
    if not report.intact:
        typer.echo(f"history does NOT verify (position {report.first_mismatch}): no digest signed", err=True)
        raise typer.Exit(1)
    try:  # never a new key: a digest signed by a key made here would be refused by the service
        signer = DigestSigner.from_file(settings.audit_key_file)
    except KeyFileMissing:
        path = Path(settings.audit_key_file).absolute()
        fail(f"no audit key at {path} (KIPP_AUDIT_KEY_FILE): kipp migrate creates it", 2)
    typer.echo(json.dumps(signer.digest(report.head_position, report.head_hash).model_dump(), indent=2))


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
    """Rebuild the projections (status, resemblances) from history beside the live ones, then swap each
    in atomically."""

    async def run(pool: asyncpg.Pool) -> tuple[RebuildReport, RebuildReport]:
        with typer.progressbar(length=await _head(pool), label="replaying", file=sys.stderr) as bar:
            status = await rebuild_status_projection(pool, progress=bar.update)
        with typer.progressbar(length=await _head(pool), label="resemblances", file=sys.stderr) as bar:
            return status, await rebuild_resemblances(pool, progress=bar.update)

    status, resemblances = with_pool(run)
    typer.echo(
        f"rebuilt the status projection from {status.events} events (up to position {status.position})"
    )
    typer.echo(
        f"rebuilt the resemblances from {resemblances.events} events (up to position {resemblances.position})"
    )
