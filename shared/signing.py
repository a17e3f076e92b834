"""Ed25519 keys kept in files, and the signatures every message on the broker carries.

Anyone who can publish on the broker could otherwise write history: review would record a submission
intake never accepted, and intake would show a status review never decided. So each service signs the
exact bytes of every body it publishes (AMQP headers `x-kipp-signature`, base64, and `x-kipp-key-id`),
and each consumer checks the signature against its producer's public key, read from configuration,
before it acts on anything in the body.

Keys are PEM files outside the database (whoever can rewrite the database should not also hold the keys).
`kipp migrate` creates a missing key pair; an existing key is never replaced.
"""

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SIGNATURE_HEADER = "x-kipp-signature"
KEY_ID_HEADER = "x-kipp-key-id"


class KeyFileMissing(FileNotFoundError):
    """A key file the configuration names is not there."""


def raw_public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_of(key: Ed25519PublicKey) -> str:
    """A short name for a public key: the first 8 bytes of its SHA-256, in hex."""
    return hashlib.sha256(raw_public_bytes(key)).hexdigest()[:16]


def _write_new(path: Path, content: bytes, mode: int) -> None:
    """Writes a file that must not exist yet. O_EXCL: of two processes creating it at once, one wins and
    the other keeps the winner's key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        return
    with os.fdopen(descriptor, "wb") as out:
        out.write(content)


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    file = Path(path)
    if not file.exists():
        raise KeyFileMissing(f"no signing key at {file}: `kipp migrate` creates it")
    key = serialization.load_pem_private_key(file.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{file} does not hold an Ed25519 private key")
    return key


def load_public_key(path: str | Path) -> Ed25519PublicKey:
    file = Path(path)
    if not file.exists():
        raise KeyFileMissing(f"no public key at {file}: `kipp migrate` creates it beside its private key")
    key = serialization.load_pem_public_key(file.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{file} does not hold an Ed25519 public key")
    return key


def ensure_private_key(path: str | Path) -> Ed25519PrivateKey:
    """The key in `path`, created (readable by its owner only) when the file does not exist."""
    file = Path(path)
    if not file.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        _write_new(file, pem, 0o600)
    return load_private_key(file)


def ensure_key_pair(private_path: str | Path, public_path: str | Path) -> str:
    """Creates the private key when missing and writes its public key beside it when that is missing.
    Returns the key id. A public key file that belongs to another key is an error, never overwritten."""
    public = ensure_private_key(private_path).public_key()
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    _write_new(Path(public_path), pem, 0o644)
    if raw_public_bytes(load_public_key(public_path)) != raw_public_bytes(public):
        raise ValueError(f"{public_path} is not the public key of {private_path}")
    return key_id_of(public)


@dataclass(frozen=True)
class MessageSigner:
    key: Ed25519PrivateKey

    @classmethod
    def from_file(cls, path: str | Path) -> "MessageSigner":
        return cls(load_private_key(path))

    @property
    def key_id(self) -> str:
        return key_id_of(self.key.public_key())

    def headers(self, body: bytes) -> dict[str, Any]:
        """The AMQP headers that sign `body`, exactly the bytes published."""
        signature = base64.b64encode(self.key.sign(body)).decode()
        return {SIGNATURE_HEADER: signature, KEY_ID_HEADER: self.key_id}


class BadSignature(Exception):
    """The message is not signed by the producer this consumer trusts; the text says how."""


def _text(value: Any) -> str | None:
    if isinstance(value, bytes | bytearray):  # AMQP long strings may arrive undecoded
        return bytes(value).decode("ascii", "replace")
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class MessageVerifier:
    """Checks messages against the producer's public key (one today; a set during a key rotation)."""

    producer: str  # who must have signed, for the reason a refusal gives
    keys: dict[str, Ed25519PublicKey]

    @classmethod
    def from_files(cls, producer: str, *paths: str | Path) -> "MessageVerifier":
        keys = [load_public_key(path) for path in paths]
        return cls(producer, {key_id_of(key): key for key in keys})

    def check(self, body: bytes, headers: dict[str, Any]) -> None:
        """Returns if `body` is signed by one of the producer's keys; raises BadSignature otherwise."""
        signature, key_id = _text(headers.get(SIGNATURE_HEADER)), _text(headers.get(KEY_ID_HEADER))
        if not signature or not key_id:
            raise BadSignature(f"unsigned: no {SIGNATURE_HEADER} and {KEY_ID_HEADER} headers")
        key = self.keys.get(key_id)
        if key is None:
            raise BadSignature(f"signed with key {key_id[:32]!r}, which is not {self.producer}'s")
        try:
            key.verify(base64.b64decode(signature, validate=True), body)
        except (InvalidSignature, ValueError):
            raise BadSignature(f"bad signature: the body is not what {self.producer} signed") from None
