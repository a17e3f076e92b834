"""Signed notes, checkpoints and cosignatures, with the known answers of the signed-note format."""

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.tlog.note import (
    Checkpoint,
    Cosigner,
    NoteError,
    NoteSigner,
    VerifierKey,
    open_note,
    split_note,
    verify_cosignature,
)

# The example of the signed-note format's reference implementation (Go's golang.org/x/mod/sumdb/note).
SEED = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
NOTE = TEXT + (
    "\n\u2014 PeterNeumann"
    " x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def test_the_known_answer_of_the_signed_note_format() -> None:
    signer = NoteSigner("PeterNeumann", Ed25519PrivateKey.from_private_bytes(SEED))
    assert str(signer.verifier) == VKEY
    assert signer.sign(TEXT) == NOTE
    assert open_note(NOTE, VerifierKey.parse(VKEY)) == TEXT


@pytest.mark.parametrize(
    "tampered",
    [
        NOTE.replace("cryptography", "cryptographY"),
        NOTE.replace("x08go", "x08gp"),
        NOTE.replace("PeterNeumann x", "PeterNewmann x"),
        TEXT,
    ],
)
def test_a_tampered_note_is_refused(tampered: str) -> None:
    with pytest.raises(NoteError):
        open_note(tampered, VerifierKey.parse(VKEY))


def test_a_verifier_key_whose_id_does_not_match_is_refused() -> None:
    with pytest.raises(NoteError, match="id"):
        VerifierKey.parse(VKEY.replace("c74f20a3", "c74f20a4"))


def test_a_checkpoint_signed_and_cosigned_by_a_witness() -> None:
    checkpoint = Checkpoint("bangkabaratkab.go.id/kipp", 812, bytes(range(32)))
    assert Checkpoint.parse(checkpoint.text()) == checkpoint
    log = NoteSigner("bangkabaratkab.go.id/kipp", Ed25519PrivateKey.generate())
    note = log.sign(checkpoint.text())
    witness = Cosigner("babelprov.go.id/witness", Ed25519PrivateKey.generate())
    cosigned = note + witness.cosign(checkpoint.text(), 1_700_000_000).line()
    text, signatures = split_note(cosigned)
    assert open_note(cosigned, log.verifier) == text == checkpoint.text()
    assert verify_cosignature(text, signatures[1], witness.verifier) == 1_700_000_000
    with pytest.raises(NoteError):
        verify_cosignature(
            Checkpoint("bangkabaratkab.go.id/kipp", 813, bytes(32)).text(), signatures[1], witness.verifier
        )


@pytest.mark.parametrize(
    "text",
    ["origin\n12\n", "origin\n012\n" + base64.b64encode(bytes(32)).decode() + "\n", "origin\n-1\nAAAA\n"],
)
def test_a_malformed_checkpoint_is_refused(text: str) -> None:
    with pytest.raises(NoteError):
        Checkpoint.parse(text)
