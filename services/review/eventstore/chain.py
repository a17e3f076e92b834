"""The hash chain that lets an auditor prove history was not altered.

Each event's hash is SHA-256 over the previous event's hash followed by the RFC 8785 (JSON Canonicalization
Scheme) encoding of the event's content: position, stream, version, id, type, schema version, data,
metadata and recorded time. RFC 8785 fixes key order, number and string forms, so any implementation can
recompute the same bytes from the stored JSON (https://www.rfc-editor.org/rfc/rfc8785).
"""

import hashlib
from dataclasses import replace
from datetime import UTC, datetime

from services.review.eventstore.base import RecordedEvent
from shared.canonical import canonical_json

GENESIS_HASH = bytes(32)


def timestamp_text(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds: the exact precision PostgreSQL keeps."""
    utc = moment.astimezone(UTC)
    if utc.year < 1000:  # strftime does not pad the year to four digits; isoformat does
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return utc.isoformat(timespec="microseconds")[:-6] + "Z"  # the same text, in a third of the time


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


def encoded_content(event: RecordedEvent) -> tuple[bytes, bytes, bytes]:
    """The RFC 8785 bytes of the event's data, of its metadata, and of its whole content (the same bytes as
    `canonical_content`), the last spliced from the first two: RFC 8785 writes an object's members one by
    one in key order, so each member's bytes are its value's own. The store hashes the content and writes
    data and metadata as they are, so a large event is encoded once rather than once for the hash and
    again for the database."""
    data, metadata = canonical_json(event.data), canonical_json(event.metadata)
    rest = canonical_json(  # the members after "metadata" in key order, and the closing brace
        {
            "position": event.position,
            "recorded_at": timestamp_text(event.recorded_at),
            "schema_version": event.schema_version,
            "stream_id": str(event.stream_id),
            "type": event.type,
            "version": event.version,
        }
    )
    content = b"".join(
        (b'{"data":', data, b',"event_id":"', str(event.event_id).encode(), b'","metadata":', metadata, b",",
         rest[1:])
    )  # fmt: skip
    return data, metadata, content


def chain_hash(previous: bytes, event: RecordedEvent) -> bytes:
    return hashlib.sha256(previous + canonical_content(event)).digest()


def sealed(previous: bytes, event: RecordedEvent) -> RecordedEvent:
    """The event with its hash set, chained to `previous`."""
    return replace(event, hash=chain_hash(previous, event))
