"""The labelled pairs scored: precision and recall of "claimed copy", the parameters chosen on the tuning
half and reported on the holdout half, and the LSH band size that still finds every flagged pair."""

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from benchmarks.resemblance.generate import Pair
from services.review.resemblance.compare import (
    Fingerprint,
    Parameters,
    compare,
    declares_replication,
    fingerprint,
)
from services.review.resemblance.sketch import BINS, band_keys

SHINGLE_WORDS = (1, 2, 3)
MATCHES = (0.4, 0.5, 0.6)
THRESHOLDS = tuple(round(0.05 * step, 2) for step in range(1, 20))
ROWS = (2, 4, 8, 16)


@dataclass(frozen=True)
class Counts:
    true_positives: int
    false_positives: int
    false_negatives: int
    true_negatives: int

    @property
    def precision(self) -> float:
        flagged = self.true_positives + self.false_positives
        return self.true_positives / flagged if flagged else 1.0

    @property
    def recall(self) -> float:
        actual = self.true_positives + self.false_negatives
        return self.true_positives / actual if actual else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "precision": round(self.precision, 3),
            "recall": round(self.recall, 3),
            "tp": self.true_positives,
            "fp": self.false_positives,
            "fn": self.false_negatives,
            "tn": self.true_negatives,
        }


def counts(truth: Iterable[bool], predicted: Iterable[bool]) -> Counts:
    tally = {(t, p): 0 for t in (True, False) for p in (True, False)}
    for t, p in zip(truth, predicted, strict=True):
        tally[t, p] += 1
    return Counts(tally[True, True], tally[False, True], tally[True, False], tally[False, False])


@dataclass(frozen=True)
class Scored:
    pair: Pair
    score: float
    declared: bool

    def flagged_as_copy(self, threshold: float) -> bool:
        return self.score >= threshold and not self.declared


def score_pairs(pairs: Sequence[Pair], parameters: Parameters) -> list[Scored]:
    prints: dict[int, Fingerprint] = {}

    def of(proposal: dict[str, Any]) -> Fingerprint:
        if id(proposal) not in prints:
            prints[id(proposal)] = fingerprint(proposal, parameters)
        return prints[id(proposal)]

    return [
        Scored(
            pair,
            compare(of(pair.later), of(pair.earlier), parameters).score,
            declares_replication(pair.later.get("replicates"), pair.earlier),
        )
        for pair in pairs
    ]


def evaluate(scored: Sequence[Scored], threshold: float) -> Counts:
    return counts((s.pair.claimed_copy for s in scored), (s.flagged_as_copy(threshold) for s in scored))


def margin(scored: Sequence[Scored]) -> float:
    """The gap between the lowest-scoring claimed copy and the highest-scoring pair that is not one
    (a declared replication counts by whether it is declared): positive when a threshold separates them."""
    copies = [s.score for s in scored if s.pair.claimed_copy]
    others = [s.score for s in scored if not s.pair.claimed_copy and not s.declared]
    return min(copies, default=1.0) - max(others, default=0.0)


def choose(pairs: Sequence[Pair]) -> tuple[Parameters, dict[str, Any]]:
    """The parameters with the best F1 on `pairs` (the tuning half), then the widest margin; the threshold
    in the middle of the run of thresholds that reach that F1."""
    best: tuple[float, float, Parameters] | None = None
    tried = []
    for words, match in itertools.product(SHINGLE_WORDS, MATCHES):
        parameters = Parameters(shingle_words=words, match=match)
        scored = score_pairs(pairs, parameters)
        f1s = [evaluate(scored, threshold).f1 for threshold in THRESHOLDS]
        top = max(f1s)
        run = [threshold for threshold, f1 in zip(THRESHOLDS, f1s, strict=True) if f1 == top]
        threshold = run[len(run) // 2]
        gap = margin(scored)
        tried.append(
            {"shingle_words": words, "match": match, "best_f1": round(top, 3), "margin": round(gap, 3)}
        )
        if best is None or (top, gap) > best[:2]:
            best = (top, gap, replace(parameters, threshold=threshold))
    assert best is not None
    return best[2], {"tried": tried}


def choose_rows(pairs: Sequence[Pair], parameters: Parameters) -> tuple[int, dict[str, Any]]:
    """The largest band (fewest chance candidates) with which every pair the exact score flags still
    shares a band key, so LSH loses none of them."""
    flagged: list[Pair] = []
    unflagged: list[Pair] = []
    for scored in score_pairs(pairs, parameters):
        (flagged if scored.score >= parameters.threshold else unflagged).append(scored.pair)
    found: dict[int, dict[str, float]] = {}
    chosen = ROWS[0]
    for rows in ROWS:
        hit = [_share_a_key(pair, parameters, rows) for pair in flagged]
        chance = [_share_a_key(pair, parameters, rows) for pair in unflagged]
        found[rows] = {
            "bands": BINS // rows,
            "flagged_pairs_found": round(sum(hit) / len(hit), 3) if hit else 1.0,
            "unflagged_pairs_found": round(sum(chance) / len(chance), 3) if chance else 0.0,
        }
        if all(hit):
            chosen = rows
    return chosen, {"rows": found}


def _share_a_key(pair: Pair, parameters: Parameters, rows: int) -> bool:
    first, second = fingerprint(pair.earlier, parameters), fingerprint(pair.later, parameters)
    return bool(set(band_keys(first.sketch, rows)) & set(band_keys(second.sketch, rows)))
