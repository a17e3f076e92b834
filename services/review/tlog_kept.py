"""The signed checkpoints the log keeps outside the database, in KIPP_CHECKPOINT_DIR as `<size>.checkpoint`.

They are what binds the log when its database cannot be trusted to remember: after a failover to a
standby that lacked the last commits, a restore from an older backup, or a rewrite, the database's own
record of what was signed may be older than what the log handed out. So the log reads the newest kept
checkpoint, checked with its own key, before it signs another; and each is written whole or not at all.
"""

from dataclasses import dataclass
from pathlib import Path

from shared.tlog.note import Checkpoint, NoteError, VerifierKey, open_note
from shared.tlog.tiles import write_once

SUFFIX = ".checkpoint"


class SigningRefused(RuntimeError):
    """The log will not sign: what it finds contradicts, or has lost, what it signed. Signing anyway could
    fork the log (two checkpoints that no history satisfies both), so it stops until an operator looks."""


@dataclass(frozen=True)
class SignedCheckpoint:
    checkpoint: Checkpoint
    note: str


def kept_path(directory: str | Path, size: int) -> Path:
    return Path(directory) / f"{size:012d}{SUFFIX}"


def keep_outside(directory: str | Path, size: int, note: str) -> None:
    """Writes the signed checkpoint where the database's operator cannot rewrite it with the database:
    durably, whole or not at all (a temporary file linked into place). A file of this size already
    there must hold this very note (signatures are deterministic: the same checkpoint signs the same)."""
    path = kept_path(directory, size)
    if path.exists() and path.read_text(encoding="utf-8") == note:
        return
    try:
        write_once(path, note.encode(), prefix=".checkpoint-")
    except FileExistsError:
        raise SigningRefused(
            f"{path} holds another checkpoint of size {size} than the one the log has just signed"
        ) from None


def newest_kept(directory: str | Path, key: VerifierKey) -> SignedCheckpoint | None:
    """The newest checkpoint kept in the directory, checked with the log's key. One that does not verify
    (cut short, altered, signed by another key) or whose name is not its size is refused, naming the file:
    the log cannot tell what it signed there, so it must not sign on top of it."""
    files = sorted(Path(directory).glob(f"*{SUFFIX}"))
    if not files:
        return None
    path = files[-1]
    note = path.read_text(encoding="utf-8")
    try:
        checkpoint = Checkpoint.parse(open_note(note, key))
    except NoteError as error:
        raise SigningRefused(
            f"the newest kept checkpoint, {path}, is not one the log signed ({error}); the log signs"
            " nothing until it has been looked at (a note cut short by a crash can be moved aside)"
        ) from None
    if path.name != kept_path(directory, checkpoint.size).name:
        raise SigningRefused(f"{path} holds a checkpoint of size {checkpoint.size}, not of its name")
    return SignedCheckpoint(checkpoint, note)
