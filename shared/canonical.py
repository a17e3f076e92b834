"""RFC 8785 (JSON Canonicalization Scheme) bytes, fast: the bytes the event store's hash chain and the
transparency log's leaves are computed over, and what an auditor's verification recomputes.

The C-backed standard library's sorted, compact JSON is byte for byte RFC 8785 for the values events hold
(no floats, integers a double holds exactly, keys below U+E000); anything else goes to the pure-Python
rfc8785 package, which this is checked against in the tests
(https://www.rfc-editor.org/rfc/rfc8785)."""

import json
from typing import Any

import rfc8785

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
