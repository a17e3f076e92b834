"""The fast path of the hash chain's canonical JSON is byte for byte the RFC 8785 reference."""

import random
import string

import pytest
import rfc8785

from services.review.eventstore.chain import canonical_json

ALPHABET = (
    string.printable + '\x00\x01\x1f\x7f\u00e9\u00fc\u4e2d\u0915\ud7ff\ue000\uffff\U0001f600\u2028\u2029"\\/'
)


def random_text(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 12)))


def random_value(rng: random.Random, depth: int = 0) -> object:
    kind = rng.randint(0, 8 if depth < 4 else 4)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.choice([0, -1, 1, 2**53, -(2**53), 2**53 + 1, rng.randint(-(10**6), 10**6)])
    if kind == 2:
        return random_text(rng)
    if kind == 3:
        return rng.choice([0.5, 1.0, -0.0, 1e21, 1e-7, 3.14159, 100.0])
    if kind == 4:
        return ""
    if kind <= 6:
        return {random_text(rng): random_value(rng, depth + 1) for _ in range(rng.randint(0, 5))}
    return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 5))]


@pytest.mark.parametrize("seed", range(40))
def test_matches_the_rfc8785_reference_on_random_values(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(50):
        value = random_value(rng)
        try:
            expected = rfc8785.dumps(value)  # type: ignore[arg-type]
        except Exception as refused:  # what the reference refuses, the fast path must refuse too
            with pytest.raises(type(refused)):
                canonical_json(value)
            continue
        assert canonical_json(value) == expected, value


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
