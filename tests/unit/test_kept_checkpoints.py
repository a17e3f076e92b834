"""Checkpoints kept outside the database are written whole or not at all, and one that is not whole or not
the log's is named, by the signer (which then signs nothing) and by the audit alike."""

import contextlib
import resource
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.review.log_audit import kept_checkpoints
from services.review.tlog_kept import SigningRefused, keep_outside, kept_path, newest_kept
from shared.tlog.merkle import leaf_hash
from shared.tlog.note import Checkpoint, NoteError, NoteSigner

SIGNER = NoteSigner("test.kipp.local/log", Ed25519PrivateKey.generate())


def note(size: int) -> str:
    return SIGNER.sign(Checkpoint(SIGNER.name, size, leaf_hash(str(size).encode())).text())


@contextlib.contextmanager
def files_limited_to(size: int) -> Iterator[None]:
    """No file of this process may grow past `size` bytes (a full disk, as far as the writer can tell)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)


def test_a_write_cut_short_leaves_no_checkpoint_and_the_next_one_writes_it_whole(tmp_path: Path) -> None:
    signed = note(8)
    with files_limited_to(len(signed) // 2), pytest.raises(OSError, match="too large"):
        keep_outside(tmp_path, 8, signed)
    assert not kept_path(tmp_path, 8).exists()
    assert list(tmp_path.iterdir()) == []  # not even the temporary file

    keep_outside(tmp_path, 8, signed)
    assert kept_path(tmp_path, 8).read_text(encoding="utf-8") == signed
    assert [path.name for path in tmp_path.iterdir()] == [kept_path(tmp_path, 8).name]
    keep_outside(tmp_path, 8, signed)  # the same note again: nothing to do


def test_another_checkpoint_of_a_kept_size_is_refused(tmp_path: Path) -> None:
    keep_outside(tmp_path, 8, note(8))
    with pytest.raises(SigningRefused, match="holds another checkpoint of size 8"):
        keep_outside(tmp_path, 8, note(9))
    assert kept_path(tmp_path, 8).read_text(encoding="utf-8") == note(8)


def test_a_temporary_file_left_by_a_crash_is_ignored(tmp_path: Path) -> None:
    keep_outside(tmp_path, 5, note(5))
    (tmp_path / ".checkpoint-k2j4h1.tmp").write_text(note(9)[:20], encoding="utf-8")
    newest = newest_kept(tmp_path, SIGNER.verifier)
    assert newest is not None
    assert newest.checkpoint.size == 5
    assert [checkpoint.size for checkpoint in kept_checkpoints(tmp_path, SIGNER.verifier)] == [5]


def test_a_truncated_note_is_named_by_the_signer_and_by_the_audit(tmp_path: Path) -> None:
    keep_outside(tmp_path, 5, note(5))
    truncated = kept_path(tmp_path, 8)
    truncated.write_text(note(8)[:30], encoding="utf-8")  # as an older version could leave it
    with pytest.raises(SigningRefused, match=f"{truncated}, is not one the log signed"):
        newest_kept(tmp_path, SIGNER.verifier)
    with pytest.raises(NoteError, match=f"{truncated}: .*cut short or altered"):
        kept_checkpoints(tmp_path, SIGNER.verifier)


def test_a_note_named_for_another_size_is_refused(tmp_path: Path) -> None:
    kept_path(tmp_path, 9).write_text(note(8), encoding="utf-8")
    with pytest.raises(SigningRefused, match="size 8, not of its name"):
        newest_kept(tmp_path, SIGNER.verifier)
