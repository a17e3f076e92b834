"""The fast path of the hash chain's canonical JSON is byte for byte the RFC 8785 reference."""

import functools
import json
import string
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from unittest import mock

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from services.review.eventstore.base import RecordedEvent
from services.review.eventstore.chain import canonical_content
from services.review.tlog import event_leaf, leaf_of
from services.review.views import event_view
from shared import canonical
from shared.canonical import canonical_json, canonical_object

ALPHABET = (
    string.printable + '\x00\x01\x1f\x7f\u00e9\u00fc\u4e2d\u0915\ud7ff\ue000\uffff\U0001f600\u2028\u2029"\\/'
)
TEXT = st.text(st.sampled_from(ALPHABET), max_size=12) | st.text(max_size=12)
# What JSON can hold, with the edges where the fast path and the reference could part: integers around
# 2**53, floats of every kind, keys across the surrogate range.
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([2**53, -(2**53), 2**53 + 1, -(2**53) - 1])
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(TEXT, inner, max_size=5),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(JSON_VALUES)
def test_matches_the_rfc8785_reference(value: object) -> None:
    assert_matches_the_reference(value)


def assert_matches_the_reference(value: object) -> None:
    try:
        expected = rfc8785.dumps(value)  # type: ignore[arg-type]
    except Exception as refused:  # what the reference refuses, the fast path must refuse too
        with pytest.raises(type(refused)):
            canonical_json(value)
        return
    assert canonical_json(value) == expected


@settings(max_examples=400, deadline=None)
@given(JSON_VALUES)
def test_the_standard_librarys_path_matches_the_reference_too(value: object) -> None:
    # What an offline verifier without orjson computes: the same bytes, or the same refusal.
    with mock.patch.object(canonical, "sorted_json", canonical.standard_library_sorted):
        assert_matches_the_reference(value)


@settings(max_examples=400, deadline=None)
@given(JSON_VALUES)
def test_orjson_and_the_standard_library_sort_alike(value: object) -> None:
    if canonical._values_are_canonical(value):
        assert canonical.orjson_sorted(value) == canonical.standard_library_sorted(value)


def test_nesting_beyond_orjsons_limit_is_encoded_as_the_standard_library_does() -> None:
    deep: object = "bottom"
    for _ in range(300):
        deep = {"inner": [deep]}
    assert canonical.orjson_sorted(deep) == canonical.standard_library_sorted(deep)
    assert canonical_json(deep) == rfc8785.dumps(deep)  # type: ignore[arg-type]


def test_the_services_encode_with_orjson() -> None:
    # A dependency of the services (pyproject.toml): without it they would be right, but slower.
    assert canonical.sorted_json is canonical.orjson_sorted


def test_sorts_keys_as_rfc8785_does_across_the_surrogate_range() -> None:
    value = {"\ue000": 1, "\U0001f600": 2, "a": 3, "é": 4}
    assert canonical_json(value) == rfc8785.dumps(value)


def test_a_value_that_contains_itself_is_refused_not_walked_forever() -> None:
    looped: dict[str, object] = {"notes": "ok"}
    looped["again"] = looped
    with pytest.raises(RecursionError):
        canonical_json(looped)


def test_a_value_shared_by_two_keys_is_encoded_twice_as_the_reference_does() -> None:
    shared = {"passed": True}
    value = {"a": shared, "b": [shared, shared]}
    assert canonical_json(value) == rfc8785.dumps(value)  # type: ignore[arg-type]


@settings(max_examples=400, deadline=None)
@given(value=st.dictionaries(TEXT, JSON_VALUES, max_size=8), chosen=st.sets(TEXT, max_size=4))
def test_an_object_with_members_encoded_beforehand_is_the_same_bytes(
    value: dict[str, object], chosen: set[str]
) -> None:
    named = [key for key in value if key in chosen] or list(value)[:1]
    try:
        expected = canonical_json(value)
    except Exception as refused:  # what cannot be encoded whole cannot be encoded in runs either
        with pytest.raises(type(refused)):
            canonical_object(value, {key: canonical_json(value[key]) for key in named})
        return
    assert canonical_object(value, {key: canonical_json(value[key]) for key in named}) == expected


@settings(max_examples=200, deadline=None)
@given(
    data=st.dictionaries(TEXT, JSON_VALUES, max_size=5),
    metadata=st.dictionaries(TEXT, JSON_VALUES, max_size=3),
    kind=TEXT,
    position=st.integers(1, 10**9) | st.integers(2**53 - 2, 2**62),  # written directly, and not
)
def test_an_events_content_is_its_whole_canonical_json(
    data: dict[str, object], metadata: dict[str, object], kind: str, position: int
) -> None:
    event = RecordedEvent(
        position=position,
        stream_id=uuid.uuid4(),
        version=3,
        event_id=uuid.uuid4(),
        type=kind,
        schema_version=2,
        data=data,
        metadata=metadata,
        recorded_at=datetime(2023, 4, 10, 8, 0, 0, 123456, tzinfo=UTC),
        hash=b"",
    )
    whole = {
        "position": position,
        "stream_id": str(event.stream_id),
        "version": 3,
        "event_id": str(event.event_id),
        "type": kind,
        "schema_version": 2,
        "data": data,
        "metadata": metadata,
        "recorded_at": "2023-04-10T08:00:00.123456Z",
    }
    try:
        expected = canonical_json(whole)
    except Exception as refused:
        with pytest.raises(type(refused)):
            canonical_content(event)
        return
    assert canonical_content(event) == expected
    encoded_data, encoded_metadata = event.encoded  # what the store writes to the database
    # It is the value written before (as jsonb keeps it: numbers as exact decimals).
    as_jsonb = functools.partial(json.loads, parse_float=Decimal, parse_int=Decimal)
    assert as_jsonb(encoded_data) == as_jsonb(json.dumps(data))
    assert as_jsonb(encoded_metadata) == as_jsonb(json.dumps(metadata))


@settings(max_examples=100, deadline=None)
@given(data=st.dictionaries(TEXT, JSON_VALUES, max_size=5), kind=TEXT)
def test_an_events_leaf_is_its_exported_line_without_its_hash(data: dict[str, object], kind: str) -> None:
    event = RecordedEvent(
        7, uuid.uuid4(), 2, uuid.uuid4(), kind, 1, data, {"source": "t"}, datetime.now(UTC), b"\x01" * 32
    )
    try:
        expected = leaf_of(event_view(event))
    except Exception as refused:
        with pytest.raises(type(refused)):
            event_leaf(event)
        return
    assert event_leaf(event) == expected
