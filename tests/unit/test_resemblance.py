"""Resemblance's pure steps: masking, shingles and sketches, the exact comparison, declared replication,
and the evaluation's metrics. No process, no database."""

import copy
import random
from dataclasses import replace

from benchmarks.resemblance.evaluate import counts
from benchmarks.resemblance.generate import pairs
from services.review.resemblance.compare import PARAMETERS, compare, declares_replication, fingerprint
from services.review.resemblance.projection import RememberedFingerprints
from services.review.resemblance.sketch import BINS, band_keys, estimated_jaccard, shingles, signature
from services.review.resemblance.text import (
    ACRONYM,
    NUMBER,
    REGION,
    acronyms_of,
    content_words,
    names_of,
    split_sentences,
)
from tests.fixtures import demo_proposals

KOMINFO = demo_proposals()[0]


def test_region_names_numbers_dates_and_acronyms_are_masked_and_the_genres_words_dropped() -> None:
    names = names_of(KOMINFO)
    words = content_words(
        "Sejak 1 Maret 2021 masyarakat Bangka Barat memakai SIPANDU di Kota Pangkal Pinang.", names
    )
    assert words == (NUMBER, REGION, "memakai", ACRONYM, REGION)
    assert content_words("Lapor Cepat Babar", names) == ("lapor", "cepat", REGION)
    # Another proposal's region is masked through the gazetteer when written as a name, not as a word.
    assert content_words("Warga Kabupaten Bangka Tengah") == (REGION,)
    assert content_words("batu bata untuk rumah") == ("batu", "bata", "rumah")
    assert content_words("Inovasi pelayanan publik ini mendukung Tanpa Kemiskinan.") == ("mendukung",)


def test_a_regions_short_forms_are_its_syllables_run_together() -> None:
    assert {"babar", "bangbar"} <= acronyms_of("Bangka Barat")
    assert "kukar" in acronyms_of("Kutai Kartanegara")
    assert acronyms_of("Sleman") == set()


def test_sentences_split_at_their_ends_not_inside_numbers() -> None:
    assert split_sentences("Naik 41.000 jiwa. Turun 3,5 persen; lalu stabil!\nBaru") == [
        "Naik 41.000 jiwa.",
        "Turun 3,5 persen;",
        "lalu stabil!",
        "Baru",
    ]


def test_a_sketch_is_the_same_in_every_run_and_estimates_jaccard() -> None:
    rng = random.Random(1)
    first = {rng.getrandbits(64) for _ in range(3000)}
    second = set(list(first)[:2000]) | {rng.getrandbits(64) for _ in range(1000)}  # Jaccard 2000/4000
    estimate = estimated_jaccard(signature(first), signature(second))
    assert abs(estimate - 0.5) < 0.15
    assert signature(first) == signature(set(first))
    assert len(band_keys(signature(first), 2)) == BINS // 2
    assert band_keys(signature(first), 4) == band_keys(signature(first), 4)


def test_a_short_text_has_a_full_sketch_that_still_matches_itself() -> None:
    few = shingles(("satu", "kata"), 2)
    sketch = signature(few)
    assert len(sketch) == BINS
    assert len(set(sketch)) > 1
    assert estimated_jaccard(sketch, signature(set(few))) == 1.0
    assert signature(set()) == (0,) * BINS


def test_reordered_sentences_and_sections_change_nothing() -> None:
    shuffled = copy.deepcopy(KOMINFO)
    texts = list(shuffled["sections"].values())
    random.Random(3).shuffle(texts)
    shuffled["sections"] = {
        name: " ".join(reversed(split_sentences(text)))
        for name, text in zip(shuffled["sections"], texts, strict=True)
    }
    found = compare(fingerprint(shuffled), fingerprint(KOMINFO))
    assert found.score == 1.0
    assert len(found.passages) == len(fingerprint(KOMINFO).units)


def test_proposals_sharing_only_the_genres_language_score_nothing() -> None:
    scores = [
        compare(fingerprint(later), fingerprint(earlier)).score
        for number, later in enumerate(demo_proposals())
        for earlier in demo_proposals()[:number]
    ]
    assert max(scores) < 0.1


def test_the_score_of_each_section_says_how_much_of_it_was_found() -> None:
    partial = copy.deepcopy(KOMINFO)
    partial["sections"]["significance"] = "Jumlah kunjungan wisatawan ke pantai tumbuh pesat setiap libur."
    found = compare(fingerprint(partial), fingerprint(KOMINFO))
    assert found.sections_of_later["significance"] == 0.0
    assert found.sections_of_later["summary"] == 1.0
    assert 0.5 < found.score < 1.0


def test_a_replication_is_declared_when_it_names_the_earlier_regency_or_its_title() -> None:
    by_region = {"title": "Aduan Satu Pintu", "region": "Kab. Bangka Barat, Kepulauan Bangka Belitung"}
    by_title = {"title": KOMINFO["title"], "region": "daerah lain"}
    elsewhere = {"title": "Aduan Satu Pintu", "region": "Kabupaten Belitung"}
    assert declares_replication(by_region, KOMINFO)
    assert declares_replication(by_title, KOMINFO)
    assert not declares_replication(elsewhere, KOMINFO)
    assert not declares_replication(None, KOMINFO)


def test_precision_and_recall_count_what_was_flagged_against_what_is_true() -> None:
    tally = counts([True, True, True, False, False], [True, True, False, True, False])
    assert (tally.true_positives, tally.false_positives, tally.false_negatives, tally.true_negatives) == (
        2,
        1,
        1,
        1,
    )
    assert (tally.precision, tally.recall) == (2 / 3, 2 / 3)
    assert counts([False], [False]).precision == 1.0  # nothing flagged: no false alarm


def test_the_labelled_set_holds_every_kind_in_both_halves() -> None:
    labelled = pairs()
    assert len(labelled) >= 60
    kinds = {(pair.kind, pair.split) for pair in labelled}
    for kind in ("copy", "replication", "paraphrase", "unrelated"):
        assert {(kind, "tune"), (kind, "holdout")} <= kinds
    assert pairs() == labelled  # the generator is seeded: the same pairs every run
    assert all(pair.later.get("replicates") for pair in labelled if pair.kind == "replication")


def test_remembered_fingerprints_keep_the_most_recently_used_within_their_budget() -> None:
    texts = [fingerprint(proposal) for proposal in demo_proposals()[:3]]
    budget = texts[0].weight + texts[1].weight + texts[2].weight - 1  # not room for all three
    remembered = RememberedFingerprints(shingles=budget)
    remembered.remember(b"a", PARAMETERS, texts[0])
    remembered.remember(b"b", PARAMETERS, texts[1])
    assert remembered.get(b"a", PARAMETERS) is texts[0]  # now used more recently than b
    remembered.remember(b"c", PARAMETERS, texts[2])
    assert remembered.get(b"b", PARAMETERS) is None
    assert remembered.get(b"a", PARAMETERS) is texts[0]
    assert remembered.get(b"c", PARAMETERS) is texts[2]
    assert remembered.get(b"a", replace(PARAMETERS, threshold=0.9)) is None  # made with other parameters
    too_small = RememberedFingerprints(shingles=texts[0].weight - 1)
    too_small.remember(b"a", PARAMETERS, texts[0])
    assert too_small.get(b"a", PARAMETERS) is None  # larger than the whole budget: not kept
