"""`python -m benchmarks resemblance`: the labelled evaluation, the CPU a fingerprint costs, and the
candidate lookup in a ledger of 30,000 proposals.

- Evaluation: parameters chosen on the tuning half of the labelled pairs (benchmarks/resemblance/
  evaluate.py), precision and recall of "claimed copy" reported on the holdout half, and on all pairs with
  the parameters the service ships.
- CPU: `fingerprint` of a 20 KB proposal (process time), against a classic MinHash of 128 permutations
  over the same shingles in plain Python, the raw reference a one-permutation sketch is meant to beat.
- Lookup: 30,000 proposals' band keys in `review.resemblance_bands` (SINOVIK held about 26,000 from 2014
  to 2023), each made of real sentences' shingles from the labelled set, partly reworded, so proposals
  share the genre's shingles as real ones do; then the projection's own candidate query for 1,000 new
  texts (half of them copies of stored ones), timed one by one.
"""

import random
import time
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from benchmarks.common import percentile, scratch_database
from benchmarks.resemblance.evaluate import choose, choose_rows, evaluate, margin, score_pairs
from benchmarks.resemblance.generate import originals, pairs
from services.review.resemblance.compare import PARAMETERS, compare, fingerprint
from services.review.resemblance.projection import candidates
from services.review.resemblance.sketch import band_keys, signature

LEDGER = 30_000
LOOKUPS = 1_000
SECTIONS = ("summary", "background", "novelty", "implementation", "significance", "adaptability", "resources",
            "sustainability")  # fmt: skip


def evaluation() -> dict[str, Any]:
    labelled = pairs()
    tune = [p for p in labelled if p.split == "tune"]
    holdout = [p for p in labelled if p.split == "holdout"]
    chosen, tried = choose(tune)
    rows, by_rows = choose_rows(tune, chosen)
    chosen_scored = score_pairs(holdout, chosen)
    shipped = score_pairs(labelled, PARAMETERS)
    return {
        "pairs": len(labelled),
        "kinds": {
            kind: sum(p.kind == kind for p in labelled)
            for kind in ("copy", "replication", "paraphrase", "unrelated")
        },
        "chosen_on_tune": {**chosen.__dict__, "rows": rows},
        "shipped": PARAMETERS.__dict__,
        "holdout_with_chosen": evaluate(chosen_scored, chosen.threshold).summary(),
        "all_with_shipped": evaluate(shipped, PARAMETERS.threshold).summary(),
        "margin_all_with_shipped": round(margin(shipped), 3),
        "tried": tried["tried"],
        "lsh": by_rows["rows"],
    }


def proposal_of_size(size: int) -> dict[str, Any]:
    """A proposal of `size` characters of real proposal text, over the eight sections."""
    text = " ".join(t for o in originals() for t in o["sections"].values())
    while len(text) < size:
        text += " " + text
    part = size // len(SECTIONS)
    return {
        "title": "Layanan uji",
        "region": {"regency": "Kabupaten Bangka Barat", "province": "Kepulauan Bangka Belitung"},
        "agency": {"name": "Dinas Komunikasi dan Informatika Kabupaten Bangka Barat", "kind": "opd"},
        "sections": {name: text[i * part : (i + 1) * part] for i, name in enumerate(SECTIONS)},
    }


def classic_minhash(hashes: set[int], permutations: int = 128) -> list[int]:
    """The raw reference: one universal hash per permutation and shingle ((a x + b) mod p)."""
    prime = (1 << 61) - 1
    rng = random.Random(0)
    params = [(rng.randrange(1, prime), rng.randrange(prime)) for _ in range(permutations)]
    return [min((a * h + b) % prime for h in hashes) for a, b in params]


def cpu() -> dict[str, Any]:
    proposal = proposal_of_size(20_000)
    fingerprint(proposal)
    repeats = 30
    began = time.process_time()
    for _ in range(repeats):
        printed = fingerprint(proposal)
    per_fingerprint = (time.process_time() - began) / repeats * 1000
    hashes = {h for unit in printed.units for h in unit.shingles}
    began = time.process_time()
    for _ in range(3):
        classic_minhash(hashes)
    per_classic = (time.process_time() - began) / 3 * 1000
    began = time.process_time()
    for _ in range(repeats):
        compare(printed, printed)
    per_compare = (time.process_time() - began) / repeats * 1000
    return {
        "characters": sum(len(t) for t in proposal["sections"].values()),
        "sentences": len(printed.units),
        "shingles": len(hashes),
        "fingerprint_cpu_ms": round(per_fingerprint, 2),
        "classic_minhash_128_cpu_ms": round(per_classic, 2),
        "exact_compare_cpu_ms": round(per_compare, 2),
    }


def _fresh(rng: random.Random, count: int) -> set[int]:
    return {rng.getrandbits(64) for _ in range(count)}


def synthetic_ledger(rng: random.Random, count: int) -> list[set[int]]:
    """Shingle sets of `count` proposals: 20 real sentences each, half of each sentence's shingles kept and
    the rest new (other words), so proposals share the genre's phrasing without being copies."""
    units = [u.shingles for o in originals() for u in fingerprint(o).units if len(u.shingles) >= 3]
    ledger = []
    for _ in range(count):
        shingle_set: set[int] = set()
        for unit in rng.sample(units, 20):
            kept = {h for h in unit if rng.random() < 0.5}
            shingle_set |= kept | _fresh(rng, len(unit) - len(kept))
        ledger.append(shingle_set)
    return ledger


async def lookup() -> dict[str, Any]:
    rng = random.Random(26_000)
    ledger = synthetic_ledger(rng, LEDGER)
    ids = [uuid4() for _ in ledger]
    began = time.perf_counter()
    keyed = [sorted(set(band_keys(signature(s), PARAMETERS.rows))) for s in ledger]
    sketched = time.perf_counter() - began
    queries: list[tuple[list[int], UUID | None]] = []  # keys, and the stored proposal a copy was made of
    for number in range(LOOKUPS):
        source = None
        if number % 2:  # a copy of a stored proposal: most of its shingles, some of its own
            index = rng.randrange(LEDGER)
            source = ids[index]
            stored = ledger[index]
            shingle_set = {h for h in stored if rng.random() < 0.8} | _fresh(rng, len(stored) // 5)
        else:
            shingle_set = synthetic_ledger(rng, 1)[0]
        queries.append((sorted(set(band_keys(signature(shingle_set), PARAMETERS.rows))), source))
    async with scratch_database() as url:
        conn = await asyncpg.connect(url)
        try:
            await conn.copy_records_to_table(
                "resemblance_bands",
                schema_name="review",
                records=(
                    (key, proposal_id) for proposal_id, keys in zip(ids, keyed, strict=True) for key in keys
                ),
                columns=["key", "proposal_id"],
            )
            await conn.execute("VACUUM ANALYZE review.resemblance_bands")
            latencies: list[float] = []
            found: list[int] = []
            sources_found = 0
            for keys, source in queries:
                began = time.perf_counter()
                result = await candidates(conn, keys, uuid4())
                latencies.append(time.perf_counter() - began)
                found.append(len(result))
                sources_found += source is not None and result[:1] == [source]
            rows = await conn.fetchval("SELECT count(*) FROM review.resemblance_bands")
        finally:
            await conn.close()
    return {
        "proposals": LEDGER,
        "band_rows": rows,
        "sketch_and_keys_per_s": round(LEDGER / sketched, 1),
        "lookups": LOOKUPS,
        "lookup_p50_ms": round(percentile(latencies, 0.5) * 1000, 2),
        "lookup_p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "copies_whose_source_came_first": f"{sources_found} of {LOOKUPS // 2}",
        "mean_candidates_returned": round(sum(found) / len(found), 1),
    }


async def measure(results: dict[str, Any]) -> None:
    evaluated = evaluation()
    spent = cpu()
    looked = await lookup()
    results["resemblance"] = {"evaluation": evaluated, "cpu": spent, "lookup": looked}
    holdout = evaluated["holdout_with_chosen"]
    results["resemblance_precision"] = holdout["precision"]
    results["resemblance_recall"] = holdout["recall"]
    results["resemblance_fingerprint_cpu_ms"] = spent["fingerprint_cpu_ms"]
    results["resemblance_lookup_p99_ms"] = looked["lookup_p99_ms"]
