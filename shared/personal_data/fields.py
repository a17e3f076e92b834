"""The innovator's fields encrypted and decrypted (pure: no I/O).

An encrypted field is stored in place of the text, as a JSON object that says whose key opens it:
`{"subject": "<uuid>", "nonce": "<base64url>", "ciphertext": "<base64url>"}` (AES-256-GCM with the
subject's data key; the ciphertext ends with the 16-byte tag; base64url without padding). Its associated
data is `<event id>/innovator.<field>`, so a ciphertext copied into another event or field does not open.
A field that is absent or null stays so: there is nothing personal to hide in it.

Readers get the fields back in plain text where the subject's key still exists, and the erased marker
(`ERASED_INNOVATOR`: every field null, `"erased": true`) where it was destroyed.
"""

import base64
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PERSONAL_FIELDS = ("name", "email", "phone")
NONCE_BYTES = 12
KEY_BYTES = 32

# What every reader is shown in place of an erased person's fields.
ERASED_INNOVATOR: dict[str, Any] = {"name": None, "email": None, "phone": None, "erased": True}


class UnreadableField(ValueError):
    """An encrypted field its subject's key does not open: not written for this event and field."""


@dataclass(frozen=True)
class DataKey:
    """One person's data key, unwrapped."""

    subject_id: UUID
    secret: bytes = field(repr=False)

    @classmethod
    def generate(cls, subject_id: UUID) -> "DataKey":
        return cls(subject_id, secrets.token_bytes(KEY_BYTES))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _associated(event_id: UUID | str, name: str) -> bytes:
    return f"{event_id}/innovator.{name}".encode()


def is_encrypted(value: Any) -> bool:
    return isinstance(value, dict) and "subject" in value and "ciphertext" in value


def encrypt_innovator(innovator: Mapping[str, Any], event_id: UUID, key: DataKey) -> dict[str, Any]:
    cipher = AESGCM(key.secret)
    subject, event = str(key.subject_id), str(event_id)
    # Every field's nonce from one draw of the system's random source (one call instead of three).
    nonces = secrets.token_bytes(NONCE_BYTES * len(PERSONAL_FIELDS))
    encrypted: dict[str, Any] = {}
    for name, value in innovator.items():
        if name in PERSONAL_FIELDS and isinstance(value, str):
            start = NONCE_BYTES * PERSONAL_FIELDS.index(name)
            nonce = nonces[start : start + NONCE_BYTES]
            ciphertext = cipher.encrypt(nonce, value.encode(), _associated(event, name))
            value = {"subject": subject, "nonce": _b64(nonce), "ciphertext": _b64(ciphertext)}
        encrypted[name] = value
    return encrypted


def encrypt_proposal(posted: Mapping[str, Any], event_id: UUID, key: DataKey) -> dict[str, Any]:
    """The proposal as it leaves intake: as posted, with the innovator's fields encrypted."""
    return {**posted, "innovator": encrypt_innovator(posted["innovator"], event_id, key)}


def subject_of(proposal: Mapping[str, Any] | None) -> UUID | None:
    """The subject whose key opens the proposal's innovator fields; None for a text recorded in plain."""
    innovator = (proposal or {}).get("innovator")
    if not isinstance(innovator, dict):
        return None
    email = innovator.get("email")
    return UUID(email["subject"]) if isinstance(email, dict) and is_encrypted(email) else None


def decrypt_innovator(
    innovator: Mapping[str, Any], event_id: UUID, keys: Mapping[UUID, bytes]
) -> dict[str, Any]:
    """The innovator's fields in plain text; the erased marker once their subject's key is gone. Fields
    recorded in plain text (before encryption was introduced) come back as they are."""
    plain: dict[str, Any] = {}
    for name, value in innovator.items():
        if not is_encrypted(value):
            plain[name] = value
            continue
        secret = keys.get(UUID(value["subject"]))
        if secret is None:
            return dict(ERASED_INNOVATOR)
        try:
            text = AESGCM(secret).decrypt(
                _unb64(value["nonce"]), _unb64(value["ciphertext"]), _associated(event_id, name)
            )
        except (InvalidTag, ValueError):
            raise UnreadableField(
                f"innovator.{name} of event {event_id} does not open with its key"
            ) from None
        plain[name] = text.decode()
    return plain


def decrypt_proposal(
    proposal: Mapping[str, Any], event_id: UUID, keys: Mapping[UUID, bytes]
) -> dict[str, Any]:
    innovator = proposal.get("innovator")
    if not isinstance(innovator, dict):
        return dict(proposal)
    return {**proposal, "innovator": decrypt_innovator(innovator, event_id, keys)}
