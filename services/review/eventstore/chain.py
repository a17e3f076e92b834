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
from shared.canonical import canonical_object

GENESIS_HASH = bytes(32)


def timestamp_text(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds: the exact precision PostgreSQL keeps."""
    utc = moment.astimezone(UTC)
    if utc.year < 1000:  # strftime does not pad the year to four digits; isoformat does
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return utc.isoformat(timespec="microseconds")[:-6] + "Z"  # the same text, in a third of the time


def canonical_content(event: RecordedEvent) -> bytes:
    """The RFC 8785 bytes of everything recorded about the event except its own hash."""
    data, metadata = event.encoded
    return canonical_object(
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
        },
        {"data": data, "metadata": metadata},
    )


def chain_hash(previous: bytes, event: RecordedEvent) -> bytes:
    return hashlib.sha256(previous + canonical_content(event)).digest()


def sealed(previous: bytes, event: RecordedEvent) -> RecordedEvent:
    """The event with its hash set, chained to `previous`."""
    return replace(event, hash=chain_hash(previous, event))
