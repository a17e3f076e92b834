"""From a proposal's text to what is compared: its sentences, each as the words that carry its content.

A copy from another region changes what is easiest to change: the names of the region, its agencies and
their acronyms, numbers and dates, the order of sentences and sections, a word here and there. So before
anything is compared, each sentence is
- folded (Unicode NFKC, accents removed, case folded) and cut into words;
- masked: numbers, number words and month names become one NUMBER mark; acronyms and coined names
  written in capitals (SIPANDU, SiCantik) become ACRONYM; the names the proposal itself carries (its
  regency, province, the proper names in its agency's name, acronyms of its regency such as "Babar" for
  Bangka Barat) and every region in the gazetteer (written capitalised) become REGION;
- stripped of the genre's vocabulary (function words, the words every public-service proposal uses,
  the names of the SDGs), so what is left is what the innovation is about and how it is told.
"""

import itertools
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

REGION, NUMBER, ACRONYM = "§w", "§n", "§a"
MARKS = frozenset({REGION, NUMBER, ACRONYM})

_WORD = re.compile(r"[^\W_]+")
# A sentence ends at . ! ? ; followed by space (not inside 41.000 or 3,5), or at a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\s*\n\s*")

MONTHS = frozenset(
    {"januari", "februari", "maret", "april", "mei", "juni", "juli", "agustus", "september", "oktober",
     "november", "desember", "jan", "feb", "mar", "apr", "jun", "jul", "agu", "agt", "ags", "sep", "sept",
     "okt", "nov", "des"}
)  # fmt: skip
NUMBER_WORDS = frozenset(
    {"nol", "satu", "dua", "tiga", "empat", "lima", "enam", "tujuh", "delapan", "sembilan", "sepuluh",
     "sebelas", "seratus", "seribu", "sejuta", "belas", "puluh", "ratus", "ribu", "juta", "miliar", "triliun",
     "setengah", "separuh", "persen"}
)  # fmt: skip


def fold(word: str) -> str:
    """The word without accents, case folded: `Pelayánan` and `pelayanan` are one word."""
    if word.isascii():
        return word.lower()
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def words_of(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKC", text))


def split_sentences(text: str) -> list[str]:
    return [part.strip() for part in _SENTENCE_END.split(text) if part and part.strip()]


Phrase = tuple[str, ...]


class PhraseIndex:
    """Phrases (tuples of folded words) found in a sequence of words, longest first."""

    def __init__(self, phrases: Iterable[Phrase]) -> None:
        self._by_first: dict[str, list[Phrase]] = {}
        for phrase in set(phrases):
            if phrase:
                self._by_first.setdefault(phrase[0], []).append(phrase)
        for found in self._by_first.values():
            found.sort(key=len, reverse=True)

    def match(self, words: list[str], at: int) -> int:
        """The length of the longest phrase starting at `at` (0 if none)."""
        for phrase in self._by_first.get(words[at], ()):
            if tuple(words[at : at + len(phrase)]) == phrase:
                return len(phrase)
        return 0


def phrase_of(name: str) -> Phrase:
    return tuple(fold(word) for word in words_of(name))


@dataclass(frozen=True)
class Vocabulary:
    dropped: frozenset[str]  # function words and the genre's words
    genre_phrases: PhraseIndex
    agency_words: frozenset[str]  # words of agency names that every region's agencies share
    regions: PhraseIndex  # the gazetteer


def _data(name: str) -> Any:
    return json.loads(resources.files(__package__).joinpath(name).read_text(encoding="utf-8"))


@cache
def vocabulary() -> Vocabulary:
    words, places = _data("vocabulary.json"), _data("gazetteer.json")
    names = [*places["provinces"], *places["regencies"], *places["seats"]]
    return Vocabulary(
        dropped=frozenset(words["function_words"]) | frozenset(words["genre_words"]),
        genre_phrases=PhraseIndex(phrase_of(phrase) for phrase in words["phrases"]),
        agency_words=frozenset(words["agency_words"]),
        regions=PhraseIndex(phrase_of(name) for name in names),
    )


_KIND = re.compile(r"^\s*(kabupaten|kab\.?|kota|provinsi)\s+", re.IGNORECASE)


def acronyms_of(name: str) -> set[str]:
    """What a region's name is shortened to in Indonesian usage: the first syllables of each word run
    together (Bangka Barat: Babar, Bangbar; Kutai Kartanegara: Kukar). Only for names of two or three
    words; at least four letters, so no common word is caught."""
    words = phrase_of(name)
    if not 2 <= len(words) <= 3:
        return set()
    prefixes = [[word[:size] for size in range(2, 5) if size <= len(word)] for word in words]
    return {"".join(parts) for parts in itertools.product(*prefixes) if len("".join(parts)) >= 4}


@dataclass(frozen=True)
class Names:
    """The names a proposal carries, masked wherever they are written, whatever their case."""

    phrases: PhraseIndex
    words: frozenset[str]


def names_of(proposal: Mapping[str, Any]) -> Names:
    """From the proposal's region and agency only (never from anything about a person)."""
    region = proposal.get("region") or {}
    agency = proposal.get("agency") or {}
    places = [_KIND.sub("", str(region.get(key) or "")) for key in ("regency", "province")]
    known = vocabulary()
    own_words = {
        word
        for word in phrase_of(str(agency.get("name") or ""))
        if len(word) >= 3 and word not in known.agency_words and word not in known.dropped
    }
    phrases = [phrase_of(place) for place in places if place]
    # Words of the agency's name that are the region's own name are masked as the region already.
    own_words -= {word for phrase in phrases for word in phrase}
    acronyms = set().union(*(acronyms_of(place) for place in places if place))
    return Names(PhraseIndex(phrases), frozenset(own_words | acronyms))


NO_NAMES = Names(PhraseIndex(()), frozenset())


def _is_acronym(word: str) -> bool:
    """SIPANDU, KTP, e-KTP's KTP, SiCantik, eLapor: capitals beyond the first letter."""
    rest = word[1:]
    return rest.lower() != rest and sum(c.isalpha() for c in word) >= 2


def content_words(sentence: str, names: Names = NO_NAMES) -> tuple[str, ...]:
    """The sentence as it is compared: folded, masked, without the genre's vocabulary."""
    known = vocabulary()
    written = words_of(sentence)
    folded = [fold(word) for word in written]
    out: list[str] = []
    at = 0
    while at < len(folded):
        word = folded[at]
        if (span := names.phrases.match(folded, at)) or (
            written[at][:1].isupper() and (span := known.regions.match(folded, at))
        ):
            out.append(REGION)
        elif span := known.genre_phrases.match(folded, at):
            pass
        else:
            span = 1
            if any(c.isdigit() for c in word) or word in MONTHS or word in NUMBER_WORDS:
                out.append(NUMBER)
            elif word in names.words:
                out.append(REGION)
            elif _is_acronym(written[at]):
                out.append(ACRONYM)
            elif word not in known.dropped:
                out.append(word)
        at += span
    # "1 Maret 2021" and "Juni 2022" are one date each; a run of marks of one kind is one mark.
    return tuple(word for i, word in enumerate(out) if not (word in MARKS and i and out[i - 1] == word))
