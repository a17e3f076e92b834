"""Proof that history was not altered: walking the hash chain, and signed digests of its head.

Walking the chain detects any change to a stored event (a field, its hash, its position), a deleted or
inserted event, and swapped events: the first position where the recomputed chain and the stored one
part is reported. Someone able to rewrite the whole table could recompute every hash after a change, so
an auditor also keeps a signed digest (position, head hash, time) outside the system; a digest taken
before such a rewrite no longer matches the history after it. That is what Amazon QLDB's digests offered.

The transparency log's signed checkpoints (tlog.py) supersede digests: they prove the same, and more
(a rewrite named event by event, inclusion of one event, a witness's cosignature). Digests already kept
still verify, with the public key they carry or one given explicitly, never with a private key.
"""

import base64
import hashlib
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt

from services.review.eventstore.base import RecordedEvent
from services.review.eventstore.chain import GENESIS_HASH, chain_hash, timestamp_text
from shared.signing import ensure_private_key, load_private_key


@dataclass(frozen=True)
class ChainReport:
    intact: bool
    checked: int
    head_position: int
    head_hash: str
    first_mismatch: int | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def verify_chain(
    events: AsyncIterator[RecordedEvent],
    until: int | None = None,
    progress: Callable[[int], None] = lambda _: None,
) -> ChainReport:
    """Recomputes the chain from the genesis over the events in stored position order."""
    previous, expected, checked = GENESIS_HASH, 1, 0
    async for event in events:
        if until is not None and event.position > until:
            break
        if event.position != expected:
            why = "an event is missing here" if event.position > expected else "positions out of order"
            return ChainReport(False, checked, expected - 1, previous.hex(), expected, why)
        if chain_hash(previous, event) != event.hash:
            why = "the stored event does not match its hash, or the hash does not follow the previous one"
            return ChainReport(False, checked, expected - 1, previous.hex(), event.position, why)
        previous, expected, checked = event.hash, expected + 1, checked + 1
        progress(1)
    if until is not None and expected - 1 < until:
        return ChainReport(
            False, checked, expected - 1, previous.hex(), expected, "history ends before the digest"
        )
    return ChainReport(True, checked, expected - 1, previous.hex())


def _taken_at(text: str) -> str:
    datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")  # ValueError for a date or time that does not exist
    return text


def _base64_of(size: int) -> AfterValidator:
    def check(text: str) -> str:
        if len(base64.b64decode(text, validate=True)) != size:  # binascii.Error is a ValueError
            raise ValueError(f"must be base64 of {size} bytes")
        return text

    return AfterValidator(check)


class Digest(BaseModel):
    """A signed digest as `DigestSigner.digest` gives it. Its types are checked before its signature, so a
    digest file that is not one (a position of NaN, a hash of the wrong length) is refused by field."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    position: StrictInt = Field(ge=0, le=2**53 - 1)  # what a JSON number holds exactly (RFC 8785)
    head_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    # RFC 3339 in UTC with microseconds, kept as text: the signature is over these exact characters.
    taken_at: Annotated[
        str,
        Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$"),
        AfterValidator(_taken_at),
    ]
    key_id: str = Field(pattern=r"^[0-9a-f]{16}$")
    algorithm: Literal["Ed25519"]
    public_key: Annotated[str, Field(max_length=100), _base64_of(32)]
    signature: Annotated[str, Field(max_length=200), _base64_of(64)]

    def claim(self) -> dict[str, Any]:
        """What is signed."""
        return {
            "position": self.position,
            "head_hash": self.head_hash,
            "taken_at": self.taken_at,
            "key_id": self.key_id,
        }


class DigestRefused(Exception):
    """The digest is not one the key it is checked with signed, or has been altered."""


def _key_id(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:16]


class DigestVerifier:
    """Checks digests with a public key alone: verifying a digest never needs, reads or creates the
    private key that signed it, so it works anywhere, from any directory, with no key file at all."""

    def __init__(self, key: Ed25519PublicKey) -> None:
        self._key = key
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.public_key = base64.b64encode(raw).decode()
        self.key_id = _key_id(raw)

    @classmethod
    def carried_by(cls, digest: Digest) -> "DigestVerifier":
        """The public key the digest carries, when its key id is that key's."""
        verifier = cls(Ed25519PublicKey.from_public_bytes(base64.b64decode(digest.public_key)))
        if verifier.key_id != digest.key_id:
            raise DigestRefused(
                f"its key id ({digest.key_id}) is not that of the public key it carries ({verifier.key_id})"
            )
        return verifier

    @classmethod
    def parse(cls, text: str) -> "DigestVerifier":
        """A public key given explicitly: base64 of the raw 32-byte Ed25519 key (a digest's `public_key`)
        or a PEM public key. ValueError when it is neither."""
        text = text.strip()
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode())
            if not isinstance(key, Ed25519PublicKey):
                raise ValueError("not an Ed25519 public key")
            return cls(key)
        raw = base64.b64decode(text, validate=True)
        if len(raw) != 32:
            raise ValueError("not base64 of a 32-byte Ed25519 public key")
        return cls(Ed25519PublicKey.from_public_bytes(raw))

    def pem(self) -> str:
        return self._key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    def check(self, digest: Digest) -> tuple[int, str]:
        """Returns (position, head hash) of a digest this key signed; raises DigestRefused otherwise."""
        if digest.key_id != self.key_id or digest.public_key != self.public_key:
            raise DigestRefused(f"signed with another key ({digest.key_id}), not this one ({self.key_id})")
        try:
            self._key.verify(base64.b64decode(digest.signature), rfc8785.dumps(digest.claim()))
        except InvalidSignature:
            raise DigestRefused("the signature does not match the digest: it was altered") from None
        return digest.position, digest.head_hash


class DigestSigner:
    """Signs digests with the audit key (a PEM file outside the database)."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.verifier = DigestVerifier(key.public_key())
        self.public_key = self.verifier.public_key
        self.key_id = self.verifier.key_id

    @classmethod
    def from_file(cls, path: str, create: bool = False) -> "DigestSigner":
        """The key in `path`; created there when missing only if `create` (the service, and `kipp
        migrate`, may create it; a command run in another directory must not sign with a new key)."""
        return cls(ensure_private_key(path) if create else load_private_key(path))

    def digest(self, position: int, head_hash: str, taken_at: datetime | None = None) -> Digest:
        claim: dict[str, Any] = {
            "position": position,
            "head_hash": head_hash,
            "taken_at": timestamp_text(taken_at or datetime.now(UTC)),
            "key_id": self.key_id,
        }
        signature = base64.b64encode(self._key.sign(rfc8785.dumps(claim))).decode()
        return Digest(**claim, algorithm="Ed25519", public_key=self.public_key, signature=signature)


async def verify_against_digest(
    events: AsyncIterator[RecordedEvent],
    verifier: DigestVerifier,
    digest: Digest,
    progress: Callable[[int], None] = lambda _: None,
) -> ChainReport:
    """The history up to the digest's position must verify and end exactly at the digest's head hash."""
    position, head_hash = verifier.check(digest)
    report = await verify_chain(events, until=position, progress=progress)
    if report.intact and report.head_hash != head_hash:
        return ChainReport(
            False,
            report.checked,
            report.head_position,
            report.head_hash,
            position,
            "the history up to the digest was rewritten: its head hash differs",
        )
    return report
