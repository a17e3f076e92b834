"""Two proposals compared exactly: the score, each section's score, the passages that match, and whether
the later one declared itself a replication of the earlier.

Each sentence of one proposal is matched with the sentence of the other that shares most of its shingles
(Dice coefficient); it matches when that share is at least `Parameters.match`, which a sentence keeps
through a renamed region, a changed number or a word or two edited, and which two sentences merely on the same
subject do not reach. A proposal's coverage by the other is the share of its shingles that lie in
matching sentences; the score is the larger of the two coverages, so a copy that adds text of its own,
or copies only part of the other, still scores what it took.
"""

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.review.resemblance.sketch import shingles, signature
from services.review.resemblance.text import (
    content_words,
    fold,
    names_of,
    phrase_of,
    split_sentences,
)

TITLE = "title"


@dataclass(frozen=True)
class Parameters:
    """Chosen by measurement on the tuning half of the labelled set (benchmarks/resemblance; README)."""

    shingle_words: int = 2  # shingles are runs of this many content words
    match: float = 0.4  # the Dice share of shingles at which two sentences match
    threshold: float = 0.25  # the score at which a pair is flagged
    rows: int = 2  # LSH: bins per band (BINS // rows bands)


PARAMETERS = Parameters()


@dataclass(frozen=True)
class Unit:
    """A sentence as written, where it stands, and its shingles."""

    section: str
    text: str
    shingles: frozenset[int]


@dataclass(frozen=True)
class Fingerprint:
    units: tuple[Unit, ...]
    sketch: tuple[int, ...]

    @property
    def weight(self) -> int:
        return sum(len(unit.shingles) for unit in self.units)


def fingerprint(proposal: Mapping[str, Any], parameters: Parameters = PARAMETERS) -> Fingerprint:
    """The title and sections of a proposal (nothing else of it: no person's data ever enters here)."""
    names = names_of(proposal)
    units = []
    texts = [(TITLE, str(proposal.get("title") or ""))]
    texts += [(str(name), str(text)) for name, text in (proposal.get("sections") or {}).items()]
    for section, text in texts:
        for sentence in split_sentences(text):
            found = shingles(content_words(sentence, names), parameters.shingle_words)
            if found:
                units.append(Unit(section, sentence, frozenset(found)))
    return Fingerprint(tuple(units), signature(h for unit in units for h in unit.shingles))


@dataclass(frozen=True)
class Passage:
    section: str  # of the later proposal
    text: str
    other_section: str  # of the earlier proposal
    other_text: str
    share: float  # the Dice share of their shingles


@dataclass(frozen=True)
class Resemblance:
    score: float
    sections_of_later: dict[str, float]  # each section of the later: the share of it found in the earlier
    sections_of_earlier: dict[str, float]  # and the other way round
    passages: list[Passage] = field(default_factory=list)  # in the later proposal's order


def _best_matches(
    these: Sequence[Unit], others: Sequence[Unit], match: float
) -> list[tuple[int, float] | None]:
    """For each unit of `these`, the index of the unit of `others` it matches best and their share, if at
    least `match`."""
    holders: dict[int, list[int]] = {}
    for index, unit in enumerate(others):
        for value in unit.shingles:
            holders.setdefault(value, []).append(index)
    found: list[tuple[int, float] | None] = []
    for unit in these:
        shared = Counter(index for value in unit.shingles for index in holders.get(value, ()))
        best: tuple[int, float] | None = None
        for index, count in shared.items():
            share = 2 * count / (len(unit.shingles) + len(others[index].shingles))
            if share >= match and (best is None or share > best[1]):
                best = (index, share)
        found.append(best)
    return found


def _coverage(units: Sequence[Unit], matches: Sequence[tuple[int, float] | None]) -> dict[str, float]:
    """Per section, and overall under "" (the share of shingles in matching sentences)."""
    total: Counter[str] = Counter()
    covered: Counter[str] = Counter()
    for unit, match in zip(units, matches, strict=True):
        for key in (unit.section, ""):
            total[key] += len(unit.shingles)
            covered[key] += len(unit.shingles) if match else 0
    return {key: covered[key] / total[key] for key in total}


def compare(later: Fingerprint, earlier: Fingerprint, parameters: Parameters = PARAMETERS) -> Resemblance:
    forward = _best_matches(later.units, earlier.units, parameters.match)
    backward = _best_matches(earlier.units, later.units, parameters.match)
    of_later, of_earlier = _coverage(later.units, forward), _coverage(earlier.units, backward)
    passages = [
        Passage(
            unit.section, unit.text, earlier.units[match[0]].section, earlier.units[match[0]].text, match[1]
        )
        for unit, match in zip(later.units, forward, strict=True)
        if match
    ]
    score = max(of_later.pop("", 0.0), of_earlier.pop("", 0.0))
    return Resemblance(score, of_later, of_earlier, passages)


def declares_replication(replicates: Mapping[str, Any] | None, earlier: Mapping[str, Any]) -> bool:
    """Whether the later proposal's `replicates` names the earlier one: its regency (or, failing that,
    its title, most of whose words it repeats)."""
    if not replicates:
        return False
    named_region = phrase_of(str(replicates.get("region") or ""))
    regency = phrase_of(_without_kind(str((earlier.get("region") or {}).get("regency") or "")))
    if regency and _contains(named_region, regency):
        return True
    named_title = {fold(w) for w in phrase_of(str(replicates.get("title") or ""))}
    title = {fold(w) for w in phrase_of(str(earlier.get("title") or ""))}
    return bool(title) and 2 * len(named_title & title) / (len(named_title) + len(title)) >= 0.6


def _without_kind(regency: str) -> str:
    for kind in ("Kabupaten ", "Kota ", "Kab. "):
        regency = regency.removeprefix(kind)
    return regency


def _contains(words: tuple[str, ...], part: tuple[str, ...]) -> bool:
    return any(words[at : at + len(part)] == part for at in range(len(words) - len(part) + 1))
