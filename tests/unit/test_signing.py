"""Message signatures and the key files behind them."""

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.signing import (
    KEY_ID_HEADER,
    SIGNATURE_HEADER,
    BadSignature,
    KeyFileMissing,
    MessageSigner,
    MessageVerifier,
    ensure_key_pair,
)


@pytest.fixture
def keys(tmp_path: Path) -> tuple[MessageSigner, MessageVerifier]:
    ensure_key_pair(tmp_path / "intake.pem", tmp_path / "intake.pub")
    return MessageSigner.from_file(tmp_path / "intake.pem"), MessageVerifier.from_files(
        "intake", tmp_path / "intake.pub"
    )


def test_a_signed_body_verifies(keys: tuple[MessageSigner, MessageVerifier]) -> None:
    signer, verifier = keys
    body = b'{"event_id": "1"}'
    verifier.check(body, signer.headers(body))
    # AMQP may hand long strings over as bytes.
    verifier.check(body, {name: value.encode() for name, value in signer.headers(body).items()})


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda body, headers: (body + b" ", headers), "bad signature"),
        (lambda body, headers: (body, {}), "unsigned"),
        (lambda body, headers: (body, {**headers, SIGNATURE_HEADER: "not base64!"}), "bad signature"),
        (lambda body, headers: (body, {**headers, KEY_ID_HEADER: "0123456789abcdef"}), "not intake's"),
    ],
)
def test_anything_else_is_refused_with_its_reason(
    keys: tuple[MessageSigner, MessageVerifier], tamper: object, reason: str
) -> None:
    signer, verifier = keys
    body = b'{"event_id": "1"}'
    changed_body, changed_headers = tamper(body, signer.headers(body))  # type: ignore[operator]
    with pytest.raises(BadSignature, match=reason):
        verifier.check(changed_body, changed_headers)


def test_a_key_of_someone_else_is_refused(keys: tuple[MessageSigner, MessageVerifier]) -> None:
    _, verifier = keys
    impostor = MessageSigner(Ed25519PrivateKey.generate())
    with pytest.raises(BadSignature, match="not intake's"):
        verifier.check(b"{}", impostor.headers(b"{}"))


def test_a_key_pair_is_created_once_and_never_replaced(tmp_path: Path) -> None:
    private, public = tmp_path / "keys" / "review.pem", tmp_path / "keys" / "review.pub"
    first = ensure_key_pair(private, public)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert ensure_key_pair(private, public) == first
    assert MessageSigner.from_file(private).key_id == first


def test_a_public_key_of_another_pair_is_an_error_not_overwritten(tmp_path: Path) -> None:
    ensure_key_pair(tmp_path / "a.pem", tmp_path / "a.pub")
    ensure_key_pair(tmp_path / "b.pem", tmp_path / "b.pub")
    before = (tmp_path / "b.pub").read_bytes()
    with pytest.raises(ValueError, match="is not the public key"):
        ensure_key_pair(tmp_path / "a.pem", tmp_path / "b.pub")
    assert (tmp_path / "b.pub").read_bytes() == before


def test_a_missing_key_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(KeyFileMissing, match="kipp migrate"):
        MessageSigner.from_file(tmp_path / "absent.pem")
