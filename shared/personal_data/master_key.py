"""The master key: a file outside the database that wraps every data key.

Two keys are derived from it (HMAC-SHA256 with a label, so neither can be computed from the other): one
wraps data keys (AES-256-GCM, the subject's id as associated data, so a wrapped key cannot be moved to
another subject), one keys the digest by which a person is found from their e-mail address without the
address being stored. Its check value (a short HMAC of a fixed label) names it: the database records the
check value of the key that wrapped its data keys, and a service started with another key refuses to run.
"""

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.signing import KeyFileMissing

KEY_BYTES = 32
NONCE_BYTES = 12
FILE_HEADER = "kipp-master-key-v1"


class MasterKeyMissing(KeyFileMissing):
    """The master key file the configuration names is not there."""


class MasterKeyInvalid(ValueError):
    """A file that is not a master key, or a key that cannot unwrap the data keys it is given."""


def normalised_email(address: str) -> str:
    """One form per address: whitespace stripped, case folded (mail systems treat local parts that differ
    only in case as one mailbox in practice, and a person must be found however they typed it)."""
    return address.strip().casefold()


@dataclass(frozen=True)
class MasterKey:
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_BYTES:
            raise MasterKeyInvalid(f"a master key is {KEY_BYTES} bytes, not {len(self.secret)}")

    @classmethod
    def generate(cls) -> "MasterKey":
        return cls(secrets.token_bytes(KEY_BYTES))

    def _derived(self, label: str) -> bytes:
        return hmac.new(self.secret, label.encode(), hashlib.sha256).digest()

    @property
    def check_value(self) -> str:
        """A name for the key that reveals nothing of it: 8 bytes of HMAC over a fixed label, in hex."""
        return self._derived("kipp master key check value").hex()[:16]

    def email_digest(self, address: str) -> bytes:
        return hmac.new(
            self._derived("kipp e-mail lookup"), normalised_email(address).encode(), hashlib.sha256
        ).digest()

    @cached_property
    def _wrapping(self) -> AESGCM:
        """The cipher that wraps data keys, derived once per key: a submission unwraps one key each."""
        return AESGCM(self._derived("kipp wrap data keys"))

    def wrap(self, subject_id: UUID, data_key: bytes) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self._wrapping.encrypt(nonce, data_key, subject_id.bytes)

    def unwrap(self, subject_id: UUID, wrapped: bytes) -> bytes:
        try:
            return self._wrapping.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], subject_id.bytes)
        except InvalidTag:
            raise MasterKeyInvalid(
                f"the master key {self.check_value} cannot unwrap the data key of subject {subject_id}"
            ) from None

    def file_text(self) -> str:
        return f"{FILE_HEADER} {base64.b64encode(self.secret).decode()}\n"


def load_master_key(path: str | Path) -> MasterKey:
    file = Path(path)
    if not file.exists():
        raise MasterKeyMissing(f"no master key at {file}: `kipp migrate` creates it")
    header, _, encoded = file.read_text(encoding="ascii", errors="replace").strip().partition(" ")
    try:
        if header != FILE_HEADER:
            raise ValueError(header)
        return MasterKey(base64.b64decode(encoded, validate=True))
    except ValueError:
        raise MasterKeyInvalid(f"{file} does not hold a master key ({FILE_HEADER} and base64)") from None


def write_new_master_key(path: str | Path, key: MasterKey) -> bool:
    """Writes `key` to a file that must not exist yet (readable by its owner only). O_EXCL: of two
    processes creating it at once, one wins and the other keeps the winner's key. True if written."""
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(descriptor, "w", encoding="ascii") as out:
        out.write(key.file_text())
    return True


def ensure_master_key(path: str | Path) -> MasterKey:
    """The master key in `path`, created when the file does not exist; an existing one is never replaced."""
    if not Path(path).exists():
        write_new_master_key(path, MasterKey.generate())
    return load_master_key(path)
