"""Offline verification of priority certificates and exports: no database, no network, no private key.

Only the standard library, `cryptography` (Ed25519) and `rfc8785` (the canonical JSON an export's events
are hashed in; `shared/canonical.py` takes sorted compact JSON where that is the same bytes, as it is for
every event recorded: orjson's when installed, the standard library's otherwise) are used, so an auditor
can read and run exactly this. The
algorithm, step by step, for anyone who writes their own: docs/proofs.md.
"""

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable
from typing import Any

from shared.canonical import canonical_json, canonical_object
from shared.tlog.merkle import Frontier, ProofError, leaf_hash, verify_inclusion
from shared.tlog.note import Checkpoint, NoteError, VerifierKey, open_note

CERTIFICATE_FORMAT = "kipp-priority-certificate/v1"
# The members of an exported event that hold most of its bytes.
_LARGE = ("data", "metadata")


class VerificationFailed(ValueError):
    """What does not verify, in a sentence naming it."""


def _b64(value: Any, what: str) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        raise VerificationFailed(f"{what} is not base64") from None


def verify_certificate(certificate: dict[str, Any], log_key: str) -> Checkpoint:
    """Checks a priority certificate against the log's verifier key (obtained independently of the
    certificate). Returns the checkpoint it is proven in; raises VerificationFailed naming what fails."""
    if certificate.get("format") != CERTIFICATE_FORMAT:
        raise VerificationFailed(f"not a {CERTIFICATE_FORMAT} certificate")
    try:
        key = VerifierKey.parse(log_key)
        text = open_note(str(certificate["checkpoint"]), key)
        checkpoint = Checkpoint.parse(text)
    except KeyError as missing:
        raise VerificationFailed(f"the certificate has no {missing}") from None
    except NoteError as error:
        raise VerificationFailed(f"checkpoint: {error}") from None
    if checkpoint.origin != key.name:
        raise VerificationFailed(f"the checkpoint is of {checkpoint.origin!r}, not of the log {key.name!r}")
    leaf = _b64(certificate.get("leaf"), "the leaf")
    try:
        event = json.loads(leaf)
        index = int(certificate["leaf_index"])
        proof = [_b64(node, "a proof node") for node in certificate["inclusion_proof"]]
    except (ValueError, KeyError, TypeError) as error:
        raise VerificationFailed(f"the certificate is malformed: {error}") from None
    try:
        verify_inclusion(index, checkpoint.size, leaf_hash(leaf), proof, checkpoint.root)
    except ProofError as error:
        raise VerificationFailed(f"inclusion: {error}") from None
    _matches(certificate, event, index)
    return checkpoint


def _matches(certificate: dict[str, Any], event: dict[str, Any], index: int) -> None:
    """What the certificate says in the clear must be what the proven leaf says."""
    proposal = (event.get("data") or {}).get("proposal") or {}
    claims = {
        "position": (certificate.get("position"), event.get("position")),
        "leaf_index": (index + 1, event.get("position")),
        "proposal_id": (certificate.get("proposal_id"), event.get("proposal_id")),
        "recorded_at": (certificate.get("recorded_at"), event.get("recorded_at")),
        "title": (certificate.get("title"), proposal.get("title")),
        "region": (certificate.get("region"), proposal.get("region")),
        "agency": (certificate.get("agency"), proposal.get("agency")),
    }
    for name, (claimed, proven) in claims.items():
        if claimed != proven:
            raise VerificationFailed(f"the certificate's {name} is not the proven event's")


def verify_export(lines: Iterable[str], checkpoint_note: str, log_key: str) -> Checkpoint:
    """Checks an NDJSON export (one event per line, as `kipp events export` writes it) against a signed
    checkpoint: positions from 1 without a gap, each event's chain hash, and the Merkle root over the
    first `size` events equal to the checkpoint's. Raises VerificationFailed naming the position, the
    event and the proposal where it fails."""
    try:
        key = VerifierKey.parse(log_key)
        checkpoint = Checkpoint.parse(open_note(checkpoint_note, key))
    except NoteError as error:
        raise VerificationFailed(f"checkpoint: {error}") from None
    frontier = Frontier()
    previous = bytes(32)  # the chain's genesis hash
    for number, line in enumerate(lines, start=1):
        if frontier.size == checkpoint.size:
            break
        try:
            event = json.loads(line)
            stored_hash = bytes.fromhex(event.pop("hash"))
        except (ValueError, KeyError, AttributeError) as error:
            raise VerificationFailed(f"line {number} is not an exported event: {error}") from None
        where = (
            f"position {event.get('position')}"
            f" (event {event.get('event_id')}, proposal {event.get('proposal_id')})"
        )
        if event.get("position") != number:
            raise VerificationFailed(f"line {number} holds {where}: the export has a gap or is out of order")
        # The chain's content and the leaf hold the same data and metadata: encoded once for both.
        encoded = {name: canonical_json(event[name]) for name in _LARGE if name in event}
        content = {("stream_id" if name == "proposal_id" else name): value for name, value in event.items()}
        if hashlib.sha256(previous + canonical_object(content, encoded)).digest() != stored_hash:
            raise VerificationFailed(
                f"{where} does not match its hash, or its hash does not follow the one before"
            )
        previous = stored_hash
        frontier.add(canonical_object(event, encoded))
    if frontier.size < checkpoint.size:
        raise VerificationFailed(
            f"the export ends at position {frontier.size}; the checkpoint covers {checkpoint.size} events"
        )
    if frontier.root() != checkpoint.root:
        raise VerificationFailed(
            f"the first {checkpoint.size} events of the export are not the ones the log signed"
        )
    return checkpoint
