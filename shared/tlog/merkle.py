"""Merkle trees as RFC 9162 (Certificate Transparency 2.0) §2.1 defines them, and their proofs.

Leaf `i` of a log of `n` leaves hashes as SHA-256(0x00 || leaf bytes); an inner node as
SHA-256(0x01 || left || right). The tree over n > 1 leaves splits them at the largest power of two below
n. Inclusion proofs (§2.1.3) and consistency proofs (§2.1.4) are lists of node hashes; the verification
algorithms below are the RFC's, step by step, so a proof checks with nothing but hashes.

Proof generation takes a `subtree` function: the hash of the leaves [start, start + size). A store that
keeps every complete, aligned subtree (size a power of two, start a multiple of it) answers any range a
proof asks for from O(log n) of those, so a proof costs O(log² n) lookups at most, never a scan.
"""

import hashlib
from collections.abc import Callable, Sequence

Subtree = Callable[[int, int], bytes]  # (start, size) -> the hash of leaves [start, start + size)

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """The largest power of two smaller than n (n > 1): where the tree over n leaves divides."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """The tree head over these leaf hashes, computed directly (for tests and small trees)."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = split(n)
    return node_hash(root_of(leaf_hashes[:k]), root_of(leaf_hashes[k:]))


def aligned_parts(start: int, size: int) -> list[tuple[int, int]]:
    """The complete aligned subtrees (level, index) that make up leaves [start, start + size), from the
    left, largest first. The ranges proofs ask for start at a multiple of the largest power of two not
    above their size, so they always split this way."""
    parts = []
    while size:
        level = size.bit_length() - 1
        if start % (1 << level):
            raise ValueError(f"leaves [{start}, {start + size}) do not split into aligned subtrees")
        parts.append((level, start >> level))
        start, size = start + (1 << level), size - (1 << level)
    return parts


def range_hash(complete: Callable[[int, int], bytes], start: int, size: int) -> bytes:
    """The hash of leaves [start, start + size) from the hashes of complete aligned subtrees
    (`complete(level, index)`: the subtree of 2**level leaves starting at leaf index * 2**level)."""
    if size == 0:
        return EMPTY_ROOT
    parts = [complete(level, index) for level, index in aligned_parts(start, size)]
    digest = parts.pop()
    while parts:
        digest = node_hash(parts.pop(), digest)
    return digest


def inclusion_proof(index: int, size: int, subtree: Subtree) -> list[bytes]:
    """PATH(index, D[size]) of RFC 9162 §2.1.3.1."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    proof: list[bytes] = []
    start = 0
    while size > 1:
        k = split(size)
        if index < k:
            proof.append(subtree(start + k, size - k))
            size = k
        else:
            proof.append(subtree(start, k))
            start, index, size = start + k, index - k, size - k
    proof.reverse()  # the path is listed from the leaf up
    return proof


def consistency_proof(first: int, second: int, subtree: Subtree) -> list[bytes]:
    """PROOF(first, D[second]) of RFC 9162 §2.1.4.1 (empty when first is 0 or equals second)."""
    if not 0 <= first <= second:
        raise ValueError(f"no consistency proof from {first} to {second}")
    if first in (0, second):
        return []
    proof: list[bytes] = []
    start, m, n, whole = 0, first, second, True
    while m != n:
        k = split(n)
        if m <= k:
            proof.append(subtree(start + k, n - k))
            n = k
        else:
            proof.append(subtree(start, k))
            start, m, n, whole = start + k, m - k, n - k, False
    if not whole:
        proof.append(subtree(start, m))
    proof.reverse()
    return proof


class Frontier:
    """The tree's root as leaves arrive one by one, from its complete subtrees (O(log n) memory): how a
    verifier recomputes a log's root from the events themselves, never trusting stored nodes."""

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[tuple[int, bytes]] = []  # (level, hash) of complete subtrees, largest first

    def add(self, leaf: bytes) -> None:
        self.add_hash(leaf_hash(leaf))

    def add_hash(self, digest: bytes) -> None:
        """Adds a leaf by its leaf hash (as kept in a tile, or computed already)."""
        level = 0
        while self._stack and self._stack[-1][0] == level:
            _, left = self._stack.pop()
            level, digest = level + 1, node_hash(left, digest)
        self._stack.append((level, digest))
        self.size += 1

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        digest = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            digest = node_hash(left, digest)
        return digest


class ProofError(ValueError):
    """A proof that does not prove what it claims."""


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root a valid inclusion proof leads to (RFC 9162 §2.1.3.2): compare it with a signed root."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the inclusion proof is shorter than the tree is deep")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    if root_from_inclusion(index, size, leaf, proof) != root:
        raise ProofError(f"leaf {index} is not in the tree of {size} with that root")


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 §2.1.4.2: the tree of `second` leaves extends the tree of `first` leaves."""
    if not 0 <= first <= second:
        raise ProofError(f"no tree of {first} leaves comes before one of {second}")
    if first == second:
        if proof or first_root != second_root:
            raise ProofError("two different roots for one tree size")
        return
    if first == 0:
        if proof:
            raise ProofError("the empty tree needs no proof")
        return
    if not proof:
        raise ProofError("a consistency proof is missing")
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the first tree is a node of the second
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is longer than needed")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the consistency proof is shorter than needed")
    if fr != first_root or sr != second_root:
        raise ProofError(f"the tree of {second} does not extend the tree of {first} with those roots")
