"""RFC 9162 Merkle proofs against a reference written straight from the RFC's recursive definitions."""

import hashlib

import pytest

from shared.tlog.merkle import (
    EMPTY_ROOT,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    range_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)

SIZES = [*range(1, 70), 127, 128, 129, 255, 256, 257, 300]


def leaves(n: int) -> list[bytes]:
    return [leaf_hash(f"event {i}".encode()) for i in range(n)]


def mth(d: list[bytes]) -> bytes:  # RFC 9162 §2.1.1, word for word
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = 1
    while k * 2 < len(d):
        k *= 2
    return node_hash(mth(d[:k]), mth(d[k:]))


def path(m: int, d: list[bytes]) -> list[bytes]:  # §2.1.3.1
    if len(d) == 1:
        return []
    k = 1
    while k * 2 < len(d):
        k *= 2
    return [*path(m, d[:k]), mth(d[k:])] if m < k else [*path(m - k, d[k:]), mth(d[:k])]


def subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:  # §2.1.4.1
    if m == len(d):
        return [] if b else [mth(d)]
    k = 1
    while k * 2 < len(d):
        k *= 2
    if m <= k:
        return [*subproof(m, d[:k], b), mth(d[k:])]
    return [*subproof(m - k, d[k:], False), mth(d[:k])]


def from_leaves(d: list[bytes]):  # type: ignore[no-untyped-def]
    return lambda start, size: root_of(d[start : start + size])


def test_the_empty_and_single_trees() -> None:
    assert root_of([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()
    assert root_of(leaves(1)) == leaf_hash(b"event 0")


@pytest.mark.parametrize("n", SIZES)
def test_inclusion_proofs_match_the_reference_and_verify(n: int) -> None:
    d = leaves(n)
    root = mth(d)
    assert root_of(d) == root
    for m in range(n):
        proof = inclusion_proof(m, n, from_leaves(d))
        assert proof == path(m, d)
        verify_inclusion(m, n, d[m], proof, root)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 64, 65, 100])
def test_consistency_proofs_match_the_reference_and_verify(n: int) -> None:
    d = leaves(n)
    for m in range(0, n + 1):
        proof = consistency_proof(m, n, from_leaves(d))
        assert proof == ([] if m in (0, n) else subproof(m, d, True))
        verify_consistency(m, n, mth(d[:m]), mth(d), proof)


def test_consistency_for_every_pair_up_to_a_few_hundred() -> None:
    d = leaves(300)
    roots = [mth(d[:n]) for n in range(301)]
    for n in (*range(1, 40), 127, 128, 129, 255, 256, 257, 300):
        for m in range(1, n):
            verify_consistency(m, n, roots[m], roots[n], consistency_proof(m, n, from_leaves(d[:n])))


def test_range_hash_from_complete_subtrees() -> None:
    d = leaves(300)
    complete = {
        (level, index): mth(d[index << level : (index + 1) << level])
        for level in range(9)
        for index in range(300 >> level)
    }
    for start, size in [(0, 300), (256, 44), (128, 128), (288, 12), (0, 1), (299, 1)]:
        assert range_hash(lambda level, index: complete[level, index], start, size) == mth(
            d[start : start + size]
        )


@pytest.mark.parametrize("n", [1, 2, 7, 8, 9, 100])
def test_a_wrong_leaf_proof_or_root_is_refused(n: int) -> None:
    d = leaves(n)
    root = mth(d)
    m = n // 2
    proof = inclusion_proof(m, n, from_leaves(d))
    with pytest.raises(ProofError):
        verify_inclusion(m, n, leaf_hash(b"another text"), proof, root)
    with pytest.raises(ProofError):
        verify_inclusion(m, n, d[m], proof, hashlib.sha256(b"another root").digest())
    if proof:
        with pytest.raises(ProofError):
            verify_inclusion(m, n, d[m], [bytes(32), *proof[1:]], root)
        with pytest.raises(ProofError):
            verify_inclusion(m, n, d[m], proof[:-1], root)
    with pytest.raises(ProofError):
        verify_inclusion(m, n, d[m], [*proof, bytes(32)], root)
    with pytest.raises(ProofError):
        verify_inclusion(n, n, d[m], proof, root)


def test_a_history_rewritten_after_a_checkpoint_is_inconsistent() -> None:
    d = leaves(20)
    rewritten = [*d[:9], leaf_hash(b"changed"), *d[10:]]
    with pytest.raises(ProofError):
        verify_consistency(
            12, 20, mth(d[:12]), mth(rewritten), consistency_proof(12, 20, from_leaves(rewritten))
        )
    with pytest.raises(ProofError):  # two roots for one size
        verify_consistency(20, 20, mth(d), mth(rewritten), [])
