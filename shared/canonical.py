"""RFC 8785 (JSON Canonicalization Scheme) bytes, fast: the bytes the event store's hash chain and the
transparency log's leaves are computed over, and what an auditor's verification recomputes.

Sorted, compact JSON with non-ASCII kept as UTF-8 is byte for byte RFC 8785 for the values events hold
(no floats, integers a double holds exactly, keys below U+E000); anything else goes to the pure-Python
rfc8785 package, which this is checked against in the tests
(https://www.rfc-editor.org/rfc/rfc8785). That sorted JSON is made by orjson where it is installed (the
services: a fifth of the standard library's time on a submission) and by the C-backed standard library
otherwise (an auditor's offline verifier needs nothing more); the tests hold both to the reference."""

import json
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import rfc8785

try:
    import orjson
except ImportError:  # pragma: no cover (the services install it; an offline verifier may not)
    orjson = None  # type: ignore[assignment]

_EXACT_INTEGERS = 2**53
# Built once: json.dumps with options builds an encoder on every call.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_encode_string = json.encoder.encode_basestring  # a JSON string, non-ASCII kept as it is (C-backed)
# UTF-8 lead bytes of the code points at or above U+E000 (continuation bytes are 0x80-0xBF).
_AT_OR_ABOVE_E000 = re.compile(rb"[\xee-\xf4]")


def _values_are_canonical(value: Any) -> bool:
    """True when the standard library's sorted, compact JSON of `value` is RFC 8785 but perhaps for the
    order of object keys at or above U+E000 (checked on the output, see below): no floats (whose RFC 8785
    form follows ECMAScript, not Python), integers a double holds exactly, string keys. A loop rather than
    recursion that queues containers only, the commonest kinds first: this runs for every event appended
    and every event verified."""
    kind = type(value)
    if kind is not dict and kind is not list:
        return kind is str or kind is bool or value is None or exact_integer(value)
    pending = [value]
    containers = {id(value)}  # a container met twice (shared, or containing itself) goes to rfc8785
    while pending:
        item = pending.pop()
        if type(item) is dict:
            for key in item:
                if type(key) is not str:
                    return False
            members = item.values()
        else:
            members = item
        for member in members:
            kind = type(member)
            if kind is str or kind is bool or member is None:
                continue
            if kind is dict or kind is list:
                if id(member) in containers:
                    return False
                containers.add(id(member))
                pending.append(member)
            elif kind is not int or not -_EXACT_INTEGERS < member < _EXACT_INTEGERS:
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


def standard_library_sorted(value: Any) -> bytes:
    """Sorted, compact UTF-8 JSON of `value` by the C-backed standard library."""
    return _ENCODER.encode(value).encode()


def orjson_sorted(value: Any) -> bytes:
    """The same bytes as standard_library_sorted, by orjson, for the values _values_are_canonical passes.
    What orjson refuses of those (nesting deeper than 254, a lone surrogate) goes to the standard library,
    so both paths answer alike."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return standard_library_sorted(value)


sorted_json: Callable[[Any], bytes] = standard_library_sorted if orjson is None else orjson_sorted


def canonical_json(value: Any) -> bytes:
    """RFC 8785 bytes of `value`. Sorted compact JSON does the common case (far faster than the
    pure-Python rfc8785 package, which this is checked against in the tests); rfc8785 does the rest."""
    if _values_are_canonical(value):
        data = sorted_json(value)
        if data.isascii() or not _AT_OR_ABOVE_E000.search(data) or _keys_sort_by_code_point(value):
            return data
    return rfc8785.dumps(value)


def canonical_object(value: dict[str, Any], encoded: dict[str, bytes]) -> bytes:
    """RFC 8785 bytes of the object `value`, the same as `canonical_json(value)`, with the members named in
    `encoded` taken as already encoded (their `canonical_json` bytes). RFC 8785 writes an object's members
    in key order, each value encoded on its own, so a large member (an event's data) is encoded once for
    two objects that hold it: the hash chain's content and the transparency log's leaf. Strings and exact
    integers among the other members are written here directly; anything else goes to canonical_json."""
    layout = _layout(tuple(value))
    if layout is None:  # a key that is not a string: RFC 8785 has no such object
        return canonical_json(value)
    members = []
    for key, name in layout:
        member = encoded.get(key)
        members.append(name + (member if member is not None else _member_value(value[key])))
    return b"{" + b",".join(members) + b"}"


@lru_cache(maxsize=256)
def _layout(keys: tuple[Any, ...]) -> tuple[tuple[str, bytes], ...] | None:
    """The keys in RFC 8785 order, each with its encoded name: worked out once for each set of keys (the
    objects encoded this way, events and leaves, have a handful of shapes)."""
    if not all(type(key) is str for key in keys):
        return None
    ordered = sorted(keys)
    if any(key and max(key) >= "\ue000" for key in ordered):  # where code points and UTF-16 units disagree
        ordered.sort(key=lambda key: key.encode("utf-16-be"))
    return tuple((key, canonical_json(key) + b":") for key in ordered)


def _member_value(value: Any) -> bytes:
    kind = type(value)
    if kind is str:
        return json_string(value)
    if kind is int and -_EXACT_INTEGERS < value < _EXACT_INTEGERS:
        return str(value).encode()
    return canonical_json(value)


def json_string(text: str) -> bytes:
    """RFC 8785 bytes of a string: the escaping json.dumps(ensure_ascii=False) does, C-backed."""
    return _encode_string(text).encode()


def exact_integer(value: Any) -> bool:
    """An int (not a bool) that RFC 8785 writes as its digits: one a double holds exactly."""
    return type(value) is int and -_EXACT_INTEGERS < value < _EXACT_INTEGERS
