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


def _values_are_canonical(value: Any) -> bool:
    """True when the standard library's sorted, compact JSON of `value` is RFC 8785 but perhaps for the
    order of object keys at or above U+E000 (checked on the output, see below): no floats (whose RFC 8785
    form follows ECMAScript, not Python), integers a double holds exactly, string keys. A loop rather than
    recursion, the commonest kinds first: this runs for every event appended and every event verified."""
    pending = [value]
    containers: set[int] = set()  # a container met twice (shared, or containing itself) goes to rfc8785
    while pending:
        item = pending.pop()
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is dict:
            if id(item) in containers:
                return False
            containers.add(id(item))
            for key in item:
                if type(key) is not str:
                    return False
            pending.extend(item.values())
        elif kind is list:
            if id(item) in containers:
                return False
            containers.add(id(item))
            pending.extend(item)
        elif kind is int:
            if not -_EXACT_INTEGERS < item < _EXACT_INTEGERS:
                return False
        else:
            return False
    return True


def _keys_sort_by_code_point(value: Any) -> bool:
    """True when every object key is below U+E000, where sorting by code point (as the standard library
    does) and by UTF-16 code unit (as RFC 8785 does) agree. Only asked when the JSON holds such a
    character at all (an emoji in a title, say): otherwise no key can hold one."""
    pending = [value]
    while pending:
        item = pending.pop()
        if type(item) is dict:
            for key in item:
                if key and max(key) >= "\ue000":
                    return False
            pending.extend(item.values())
        elif type(item) is list:
            pending.extend(item)
    return True


def canonical_json(value: Any) -> bytes:
    """RFC 8785 bytes of `value`. The C-backed standard library does the common case (faster than
    the pure-Python rfc8785 package, which this is checked against in the tests); rfc8785 does the rest."""
    if _values_are_canonical(value):
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        if text.isascii() or max(text) < "\ue000" or _keys_sort_by_code_point(value):
            return text.encode()
    return rfc8785.dumps(value)
