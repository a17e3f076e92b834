"""The hash chain that lets an auditor prove history was not altered.

Each event's hash is SHA-256 over the previous event's hash followed by the RFC 8785 (JSON Canonicalization
Scheme) encoding of the event's content: position, stream, version, id, type, schema version, data,
metadata and recorded time. RFC 8785 fixes key order, number and string forms, so any implementation can
recompute the same bytes from the stored JSON (https://www.rfc-editor.org/rfc/rfc8785).
"""

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import rfc8785

from services.review.eventstore.base import RecordedEvent

GENESIS_HASH = bytes(32)


def timestamp_text(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds: the exact precision PostgreSQL keeps."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_EXACT_INTEGERS = 2**53


def _json_is_canonical_for(value: Any) -> bool:
    """True when the standard library's sorted, compact JSON is byte for byte RFC 8785: no floats (whose
    RFC 8785 form follows ECMAScript, not Python), integers a double holds exactly, and object keys below
    U+E000 (where sorting by code point and by UTF-16 code unit, as RFC 8785 does, could differ)."""
    pending = [value]  # a loop rather than recursion: this runs for every event appended
    containers: set[int] = set()  # a container met twice (shared, or containing itself) goes to rfc8785
    while pending:
        item = pending.pop()
        kind = type(item)
        if kind is dict or kind is list:
            if id(item) in containers:
                return False
            containers.add(id(item))
        if kind is dict:
            if not all(type(key) is str and (not key or max(key) < "\ue000") for key in item):
                return False
            pending.extend(item.values())
        elif kind is list:
            pending.extend(item)
        elif kind is int:
            if not -_EXACT_INTEGERS < item < _EXACT_INTEGERS:
                return False
        elif not (kind is str or kind is bool or item is None):
            return False
    return True


def canonical_json(value: Any) -> bytes:
    """RFC 8785 bytes of `value`. The C-backed standard library does the common case (faster than
    the pure-Python rfc8785 package, which this is checked against in the tests); rfc8785 does the rest."""
    if _json_is_canonical_for(value):
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return text.encode()
    return rfc8785.dumps(value)


def canonical_content(event: RecordedEvent) -> bytes:
    """The RFC 8785 bytes of everything recorded about the event except its own hash."""
    return canonical_json(
        {
            "position": event.position,
            "stream_id": str(event.stream_id),
            "version": event.version,
            "event_id": str(event.event_id),
            "type": event.type,
            "schema_version": event.schema_version,
            "data": event.data,
            "metadata": event.metadata,
            "recorded_at": timestamp_text(event.recorded_at),
        }
    )


def chain_hash(previous: bytes, event: RecordedEvent) -> bytes:
    return hashlib.sha256(previous + canonical_content(event)).digest()


def sealed(previous: bytes, event: RecordedEvent) -> RecordedEvent:
    """The event with its hash set, chained to `previous`."""
    return replace(event, hash=chain_hash(previous, event))
