"""C2SP signed notes (https://c2sp.org/signed-note), checkpoints (https://c2sp.org/tlog-checkpoint) and
cosignatures (https://c2sp.org/tlog-cosignature), with Ed25519 keys.

A note is text (UTF-8, every line ending in a newline), a blank line, and signature lines
`— <key name> <base64(key id || signature)>`. A key's id is the first 4 bytes of
SHA-256(name || 0x0A || type || public key): type 0x01 for an Ed25519 signature over the text, 0x04 for a
timestamped cosignature over "cosignature/v1\\ntime <seconds>\\n" followed by the checkpoint's text. A
verifier key is written `<name>+<hex key id>+<base64(type || public key)>`.

A checkpoint's text is its origin, its tree size and its root hash (base64), one per line.
"""

import base64
import hashlib
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519 = 0x01
COSIGNATURE = 0x04
DASH = "\u2014"


class NoteError(ValueError):
    """A note, key or signature that is malformed or does not verify."""


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(name: str, kind: int, public: Ed25519PublicKey) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + _raw(public)).digest()[:4]


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise NoteError(f"a key name has no spaces or '+': {name!r}")


@dataclass(frozen=True)
class VerifierKey:
    name: str
    kind: int
    public: Ed25519PublicKey

    @property
    def id(self) -> bytes:
        return key_id(self.name, self.kind, self.public)

    def __str__(self) -> str:
        return (
            f"{self.name}+{self.id.hex()}+{base64.b64encode(bytes([self.kind]) + _raw(self.public)).decode()}"
        )

    @classmethod
    def parse(cls, text: str) -> "VerifierKey":
        try:
            name, hex_id, encoded = text.strip().split("+", 2)  # base64 may hold "+" itself
            raw = base64.b64decode(encoded, validate=True)
            key = cls(name, raw[0], Ed25519PublicKey.from_public_bytes(raw[1:]))
        except (ValueError, IndexError) as error:
            raise NoteError(f"not a verifier key: {error}") from None
        _check_name(name)
        if key.kind not in (ED25519, COSIGNATURE):
            raise NoteError(f"verifier key of unknown type {key.kind}")
        if key.id.hex() != hex_id.lower():
            raise NoteError("the verifier key's id does not match its key")
        return key


@dataclass(frozen=True)
class NoteSigner:
    name: str
    key: Ed25519PrivateKey

    def __post_init__(self) -> None:
        _check_name(self.name)

    @property
    def verifier(self) -> VerifierKey:
        return VerifierKey(self.name, ED25519, self.key.public_key())

    def sign(self, text: str) -> str:
        """The signed note: `text` and one signature line."""
        _check_text(text)
        signature = self.key.sign(text.encode())
        return f"{text}\n{DASH} {self.name} {base64.b64encode(self.verifier.id + signature).decode()}\n"


def _check_text(text: str) -> None:
    if not text.endswith("\n") or "\n\n" in text or text.startswith("\n"):
        raise NoteError("a note's text is non-empty lines, each ending in a newline")


@dataclass(frozen=True)
class Signature:
    name: str
    key_id: bytes
    payload: bytes  # what follows the key id: a signature, or a timestamp and a signature

    def line(self) -> str:
        return f"{DASH} {self.name} {base64.b64encode(self.key_id + self.payload).decode()}\n"


def split_note(note: str) -> tuple[str, list[Signature]]:
    """The text of a note and its signature lines (none verified yet)."""
    text, sep, rest = note.rpartition("\n\n")
    if not sep or not rest.endswith("\n"):
        raise NoteError("a note is text, a blank line and signature lines")
    text += "\n"
    _check_text(text)
    signatures = []
    for line in rest[:-1].split("\n"):
        dash, _, signed = line.partition(" ")
        name, _, encoded = signed.partition(" ")
        if dash != DASH or not name or not encoded:
            raise NoteError(f"not a signature line: {line!r}")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise NoteError(f"not base64 in the signature line of {name}") from None
        if len(raw) < 5:
            raise NoteError(f"the signature of {name} is too short")
        signatures.append(Signature(name, raw[:4], raw[4:]))
    return text, signatures


def open_note(note: str, key: VerifierKey) -> str:
    """The note's text, if `key` signed it (an Ed25519 note signature); NoteError otherwise."""
    text, signatures = split_note(note)
    for signature in signatures:
        if signature.name == key.name and signature.key_id == key.id:
            try:
                key.public.verify(signature.payload, text.encode())
            except InvalidSignature:
                raise NoteError(f"the signature of {key.name} does not match the note") from None
            return text
    raise NoteError(f"the note carries no signature of {key.name}")


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, text: str) -> "Checkpoint":
        lines = text.split("\n")
        try:
            origin, size, root = lines[0], int(lines[1]), base64.b64decode(lines[2], validate=True)
        except (IndexError, ValueError):
            raise NoteError("a checkpoint is its origin, its size and its root hash, one per line") from None
        if not origin or size < 0 or len(root) != 32 or str(size) != lines[1]:
            raise NoteError("a checkpoint is its origin, its size and its root hash, one per line")
        return cls(origin, size, root)


def _cosigned_message(text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


@dataclass(frozen=True)
class Cosigner:
    """A witness: it signs that it saw a checkpoint (and checked it extends the ones it saw before)."""

    name: str
    key: Ed25519PrivateKey

    def __post_init__(self) -> None:
        _check_name(self.name)

    @property
    def verifier(self) -> VerifierKey:
        return VerifierKey(self.name, COSIGNATURE, self.key.public_key())

    def cosign(self, text: str, timestamp: int) -> Signature:
        signature = self.key.sign(_cosigned_message(text, timestamp))
        return Signature(self.name, self.verifier.id, struct.pack(">Q", timestamp) + signature)


def verify_cosignature(text: str, signature: Signature, key: VerifierKey) -> int:
    """The time a witness cosigned `text` at; NoteError if `key` did not."""
    if key.kind != COSIGNATURE or signature.name != key.name or signature.key_id != key.id:
        raise NoteError(f"not a cosignature of {key.name}")
    if len(signature.payload) != 8 + 64:
        raise NoteError(f"the cosignature of {key.name} has the wrong length")
    (timestamp,) = struct.unpack(">Q", signature.payload[:8])
    try:
        key.public.verify(signature.payload[8:], _cosigned_message(text, timestamp))
    except InvalidSignature:
        raise NoteError(f"the cosignature of {key.name} does not match the checkpoint") from None
    return int(timestamp)
