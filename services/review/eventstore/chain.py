"""The hash chain that lets an auditor prove history was not altered.

Each event's hash is SHA-256 over the previous event's hash followed by the RFC 8785 (JSON Canonicalization
Scheme) encoding of the event's content: position, stream, version, id, type, schema version, data,
metadata and recorded time. RFC 8785 fixes key order, number and string forms, so any implementation can
recompute the same bytes from the stored JSON (https://www.rfc-editor.org/rfc/rfc8785).
"""

import hashlib
from dataclasses import replace
from datetime import UTC, datetime
from functools import lru_cache
from uuid import UUID

from services.review.eventstore.base import RecordedEvent
from shared.canonical import canonical_object, exact_integer, json_string

GENESIS_HASH = bytes(32)


@lru_cache(maxsize=1024)
def timestamp_text(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds: the exact precision PostgreSQL keeps. Remembered for the last
    moments asked: the events of one batch share their recorded time, and each event's time is written
    twice (its chain content and its Merkle leaf)."""
    utc = moment.astimezone(UTC)
    if utc.year < 1000:  # strftime does not pad the year to four digits; isoformat does
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return utc.isoformat(timespec="microseconds")[:-6] + "Z"  # the same text, in a third of the time


# The content's members in RFC 8785 key order, for the common case written directly (see canonical_content).
_CONTENT = (
    b'{"data":%b,"event_id":"%b","metadata":%b,"position":%d,"recorded_at":"%b","schema_version":%d,'
    b'"stream_id":"%b","type":%b,"version":%d}'
)


def canonical_content(event: RecordedEvent) -> bytes:
    """The RFC 8785 bytes of everything recorded about the event except its own hash. Its data and
    metadata are encoded once (`RecordedEvent.encoded`); the other members are a UUID, a time and integers,
    written directly into their places when they are what RFC 8785 writes as they are (the general way
    otherwise; property tests hold both to the whole encoding)."""
    data, metadata = event.encoded
    if written_directly(event):
        return _CONTENT % (
            data,
            str(event.event_id).encode(),  # a UUID's text needs no escaping
            metadata,
            event.position,
            timestamp_text(event.recorded_at).encode(),
            event.schema_version,
            str(event.stream_id).encode(),
            json_string(event.type),
            event.version,
        )
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


def written_directly(event: RecordedEvent) -> bool:
    """The members besides data and metadata are of the kinds written as they are into `_CONTENT` (and
    into the transparency log's leaf, which holds the same members)."""
    return (
        exact_integer(event.position)
        and exact_integer(event.version)
        and exact_integer(event.schema_version)
        and type(event.type) is str
        and isinstance(event.event_id, UUID)  # the driver's UUIDs are a subclass, with the same text
        and isinstance(event.stream_id, UUID)
    )


def chain_hash(previous: bytes, event: RecordedEvent) -> bytes:
    return hashlib.sha256(previous + canonical_content(event)).digest()


def sealed(previous: bytes, event: RecordedEvent) -> RecordedEvent:
    """The event with its hash set, chained to `previous`."""
    return replace(event, hash=chain_hash(previous, event))
