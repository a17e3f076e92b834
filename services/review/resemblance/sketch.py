"""Shingles and the sketch that finds candidates: one-permutation MinHash and its LSH band keys.

Shingles are taken within a sentence, never across two, so reordering sentences or sections changes no
shingle. Each is hashed once (BLAKE2b, 64 bits: the same in every process, unlike Python's `hash`).

The sketch is one-permutation hashing (Li, Owen and Zhang, 2012): the 64-bit hashes are spread over
`BINS` bins by their low bits, and each bin keeps its smallest value. Two sets agree in a bin with a
probability close to their Jaccard similarity, as in a classic MinHash of `BINS` permutations, for one
hash per shingle instead of `BINS`: that is what keeps a 20 KB proposal within a few milliseconds in plain
Python. A bin no shingle fell into takes the value of the next bin that has one, shifted by the distance
(densification by rotation, Shrivastava and Li, 2014), so short texts still have full sketches.

Bands of `rows` bins are hashed into one 64-bit key each: two proposals that share a key are candidates
(LSH). The keys are what the database indexes.
"""

import hashlib
from collections.abc import Iterable, Sequence

BINS = 128
_BIN_BITS = BINS.bit_length() - 1
_EMPTY = 1 << 64
_MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15  # an odd constant: distances map to well-spread offsets


def stable_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def shingles(words: Sequence[str], size: int) -> set[int]:
    """The hashes of the runs of `size` words (a shorter sentence is one shingle)."""
    if not words:
        return set()
    if len(words) <= size:
        return {stable_hash(" ".join(words))}
    return {stable_hash(" ".join(words[at : at + size])) for at in range(len(words) - size + 1)}


def signature(hashes: Iterable[int]) -> tuple[int, ...]:
    """The one-permutation MinHash of a set of 64-bit hashes: BINS values (empty set: all zero)."""
    bins = [_EMPTY] * BINS
    for value in hashes:
        index = value & (BINS - 1)
        rest = value >> _BIN_BITS
        if rest < bins[index]:
            bins[index] = rest
    if all(value == _EMPTY for value in bins):
        return (0,) * BINS
    return tuple(_densified(bins) if _EMPTY in bins else bins)


def _densified(bins: list[int]) -> list[int]:
    """Each empty bin takes the next filled bin's value (circularly), shifted by a multiple of the distance,
    so two sets agree there only when they agree in that filled bin and in how far it is."""
    out = list(bins)
    for index, value in enumerate(bins):
        if value == _EMPTY:
            distance = 1
            while bins[(index + distance) % BINS] == _EMPTY:
                distance += 1
            out[index] = (bins[(index + distance) % BINS] + distance * _GOLDEN) & _MASK64
    return out


def band_keys(sketch: Sequence[int], rows: int) -> list[int]:
    """One key per band of `rows` bins, as a signed 64-bit integer (a PostgreSQL bigint)."""
    keys = []
    for band in range(len(sketch) // rows):
        part = sketch[band * rows : (band + 1) * rows]
        digest = hashlib.blake2b(
            band.to_bytes(2, "little") + b"".join(value.to_bytes(8, "little") for value in part),
            digest_size=8,
        ).digest()
        keys.append(int.from_bytes(digest, "little", signed=True))
    return keys


def estimated_jaccard(first: Sequence[int], second: Sequence[int]) -> float:
    return sum(a == b for a, b in zip(first, second, strict=True)) / len(first)
