"""Resemblance across regions on real PostgreSQL: the projection follows the log, flags a claimed copy
with passages that really match, marks a declared replication, leaves same-genre proposals alone, and a
rebuild gives the same tables; the API answers reviewers and auditors."""

import copy
import html
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from services.review.application import ReviewService
from services.review.console import resemblances as console_resemblances
from services.review.consumer import intake_command
from services.review.domain.commands import RequestRevision
from services.review.eventstore.postgres import PostgresEventStore
from services.review.resemblance import projection as resemblance_projection
from services.review.resemblance.compare import PARAMETERS, compare
from services.review.resemblance.projection import ResemblanceFinder
from services.review.resemblance.queries import resemblances_of
from services.review.resemblance.rebuild import rebuild_resemblances
from services.review.resemblance.text import content_words
from shared.contract import PROPOSAL_REVISED, PROPOSAL_SUBMITTED, Topology, new_envelope
from shared.db import shipped_migrations
from tests.apps import eventually, review_app, running
from tests.console import sign_in
from tests.fixtures import REVIEWER_ACTOR, SUBMITTER, demo_proposals, encrypted, reopened_rounds
from tests.keys import Keys, bearer

COPY_FILE = Path(__file__).resolve().parents[2] / "shared" / "demo" / "resemblance-bangka-tengah-2023.json"
REVIEWER = {"actor": REVIEWER_ACTOR, "correlation_id": "c", "source": "test"}


def the_copy() -> dict[str, Any]:
    """Bangka Tengah's proposal that copies Bangka Barat's Lapor Cepat Babar (names, numbers, dates and
    sentence order changed)."""
    proposal: dict[str, Any] = json.loads(COPY_FILE.read_text(encoding="utf-8"))["proposal"]
    return proposal


def a_replication() -> dict[str, Any]:
    """The same text, from Belitung this time, declared as a replication of the original."""
    original = demo_proposals()[0]
    proposal = copy.deepcopy(the_copy())
    proposal["region"] = {"regency": "Kabupaten Belitung", "province": "Kepulauan Bangka Belitung"}
    proposal["group"] = "khusus"
    proposal["replicates"] = {"title": original["title"], "region": "Kabupaten Bangka Barat"}
    return proposal


async def submit(service: ReviewService, text: dict[str, Any]) -> uuid.UUID:
    envelope = new_envelope(
        PROPOSAL_SUBMITTED, uuid.uuid4(), datetime.now(UTC), text, actor=SUBMITTER, sequence=1, source="t",
        correlation_id="c",
    )  # fmt: skip
    await service.record_intake_event(intake_command(encrypted(envelope)))
    return envelope.proposal_id


async def revise(service: ReviewService, proposal_id: uuid.UUID, text: dict[str, Any]) -> None:
    await service.decide(proposal_id, lambda at: RequestRevision(at=at, reasons=("judul",)), REVIEWER)
    envelope = new_envelope(
        PROPOSAL_REVISED, proposal_id, datetime.now(UTC), text, actor=SUBMITTER, sequence=2, source="t",
        correlation_id="c",
    )  # fmt: skip
    await service.record_intake_event(intake_command(encrypted(envelope)))


@pytest.fixture
async def service(pool: asyncpg.Pool) -> Any:
    store = PostgresEventStore(pool)
    await store.start()
    yield ReviewService(store, reopened_rounds())
    await store.stop()


def sentences_of(proposal: dict[str, Any]) -> str:
    return " ".join([proposal["title"], *proposal["sections"].values()])


async def test_a_claimed_copy_is_flagged_against_the_earlier_proposal_with_passages_that_match(
    pool: asyncpg.Pool, service: ReviewService
) -> None:
    original, later = demo_proposals()[0], the_copy()
    earlier_id = await submit(service, original)
    for other in demo_proposals()[1:]:
        await submit(service, other)
    copy_id = await submit(service, later)
    await ResemblanceFinder(pool).catch_up()

    [item] = await resemblances_of(pool, copy_id)
    assert (item["proposal_id"], item["relation"]) == (str(earlier_id), "earlier")
    assert item["score"] >= PARAMETERS.threshold
    assert item["declared_replication"] is False
    assert item["region"]["regency"] == "Kabupaten Bangka Barat"
    assert item["title"] == original["title"]
    first = await pool.fetchval("SELECT position FROM review.events WHERE stream_id = $1", earlier_id)
    assert item["position"] == first
    assert set(item["sections"]) == {"title", *later["sections"]}
    assert item["passages"]
    for passage in item["passages"]:
        # Each side is a sentence of its own proposal, and the two share most of their content words.
        assert passage["text"] in sentences_of(later)
        assert passage["other_text"] in sentences_of(original)
        mine, theirs = set(content_words(passage["text"])), set(content_words(passage["other_text"]))
        assert len(mine & theirs) >= 0.5 * min(len(mine), len(theirs))
    moved = [p for p in item["passages"] if p["section"] == "novelty"]
    assert {p["other_text"] for p in moved} == {
        "Aduan dari semua kanal diberi nomor tiket tunggal dan dipantau bersama oleh Diskominfo dan OPD;",
        "warga dapat melihat status aduannya.",
    }

    [seen_from_earlier] = await resemblances_of(pool, earlier_id)
    assert (seen_from_earlier["proposal_id"], seen_from_earlier["relation"]) == (str(copy_id), "later")
    assert seen_from_earlier["score"] == item["score"]
    assert seen_from_earlier["region"]["regency"] == "Kabupaten Bangka Tengah"
    assert [(p["text"], p["other_text"]) for p in seen_from_earlier["passages"]] == [
        (p["other_text"], p["text"]) for p in item["passages"]
    ]


async def test_unrelated_proposals_of_the_same_genre_are_not_flagged(
    pool: asyncpg.Pool, service: ReviewService
) -> None:
    ids = [await submit(service, proposal) for proposal in demo_proposals()]
    await ResemblanceFinder(pool).catch_up()
    assert [await resemblances_of(pool, proposal_id) for proposal_id in ids] == [[]] * 5
    assert await pool.fetchval("SELECT count(*) FROM review.resemblance_fingerprints") == 5
    assert await pool.fetchval("SELECT count(*) FROM review.resemblances") == 0


async def test_a_declared_replication_is_marked_as_such(pool: asyncpg.Pool, service: ReviewService) -> None:
    earlier_id = await submit(service, demo_proposals()[0])
    replication_id = await submit(service, a_replication())
    await ResemblanceFinder(pool).catch_up()
    [item] = await resemblances_of(pool, replication_id)
    assert item["proposal_id"] == str(earlier_id)
    assert item["declared_replication"] is True
    [seen_from_earlier] = await resemblances_of(pool, earlier_id)
    assert seen_from_earlier["declared_replication"] is True


async def test_a_revision_that_no_longer_copies_drops_its_flag(
    pool: asyncpg.Pool, service: ReviewService
) -> None:
    await submit(service, demo_proposals()[0])
    copy_id = await submit(service, the_copy())
    finder = ResemblanceFinder(pool)
    await finder.catch_up()
    assert len(await resemblances_of(pool, copy_id)) == 1
    await revise(service, copy_id, {**demo_proposals()[4], "region": the_copy()["region"]})
    await finder.catch_up()
    assert await resemblances_of(pool, copy_id) == []


async def tables(pool: asyncpg.Pool) -> dict[str, list[dict[str, Any]]]:
    return {
        table: [dict(row) for row in await pool.fetch(f"SELECT * FROM review.{table} ORDER BY 1, 2")]
        for table in ("resemblance_fingerprints", "resemblance_bands", "resemblances")
    }


async def test_resemblances_survive_a_rebuild_unchanged(
    pool: asyncpg.Pool, service: ReviewService, monkeypatch: pytest.MonkeyPatch
) -> None:
    for proposal in [*demo_proposals(), the_copy(), a_replication()]:
        await submit(service, proposal)
    finder = ResemblanceFinder(pool)
    await finder.catch_up()
    before = await tables(pool)
    assert len(before["resemblances"]) >= 3  # the copy, the replication, and the replication of the copy

    # The live pass compared later texts with fingerprints it remembered; the rebuild, in a process that
    # remembers none, makes every one from its event: the same tables.
    monkeypatch.setattr(resemblance_projection, "REMEMBERED", resemblance_projection.RememberedFingerprints())
    report = await rebuild_resemblances(pool)
    assert report.position == await pool.fetchval("SELECT max(position) FROM review.events")
    assert await tables(pool) == before
    leftovers = await pool.fetchval(
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'review' AND tablename LIKE '%build%'"
    )
    assert leftovers == 0
    # The live projection goes on from the rebuilt tables.
    later_id = await submit(service, the_copy())
    await finder.catch_up()
    assert len(await resemblances_of(pool, later_id)) >= 2


async def test_a_key_shared_by_many_counts_the_first_by_id_and_finds_the_same_candidates(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Twenty copies share all eight keys, and one text four of them: every key is shared by more
    # proposals than the bound lets count (12 here), and the candidates are still the ones counting
    # every sharer finds.
    copies = sorted(uuid.uuid4() for _ in range(20))
    partial = uuid.UUID(int=2**128 - 1)  # after every copy by id: which ones the bound counts is then fixed
    keys = list(range(1, 9))
    await pool.executemany(
        "INSERT INTO review.resemblance_bands (key, proposal_id) VALUES ($1, $2)",
        [(key, copy_id) for copy_id in copies for key in keys] + [(key, partial) for key in keys[:4]],
    )
    new_text = uuid.uuid4()
    every_sharer_counted = await pool.fetch(
        "SELECT proposal_id FROM review.resemblance_bands WHERE key = ANY($1::bigint[])"
        " AND proposal_id <> $2 GROUP BY proposal_id ORDER BY count(*) DESC, proposal_id LIMIT $3",
        keys,
        new_text,
        resemblance_projection.CANDIDATES,
    )
    monkeypatch.setattr(resemblance_projection, "SHARERS_PER_KEY", 12)
    found = await resemblance_projection.candidates(pool, [*keys, *keys], new_text)  # a key named twice
    assert found == [row["proposal_id"] for row in every_sharer_counted] == copies[:10]
    # What is read is bounded: with fewer per key than candidates asked for, only those few are found.
    monkeypatch.setattr(resemblance_projection, "SHARERS_PER_KEY", 3)
    assert await resemblance_projection.candidates(pool, keys, new_text) == copies[:3]


async def test_a_text_copied_more_often_than_candidates_are_asked_finds_its_first_copies_by_its_key_set(
    pool: asyncpg.Pool, service: ReviewService, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Twelve copies of one text, and one proposal sharing part of its text: the copies have exactly the
    # new copy's band keys, so they share all of them, and the first ten of them by id are the candidates
    # counting every sharer finds. They are found by the key set alone: with a bound per key below the
    # candidates asked for, counting by the keys finds only that many (see the test above).
    text = demo_proposals()[0]
    copies = sorted([await submit(service, text) for _ in range(12)])
    await submit(service, the_copy())
    await ResemblanceFinder(pool).catch_up()
    new_copy = await submit(service, text)
    [keys] = await pool.fetch(
        "SELECT array_agg(key ORDER BY key) AS keys FROM review.resemblance_bands WHERE proposal_id = $1",
        copies[0],
    )
    every_sharer_counted = await pool.fetch(
        "SELECT proposal_id FROM review.resemblance_bands WHERE key = ANY($1::bigint[])"
        " AND proposal_id <> $2 GROUP BY proposal_id ORDER BY count(*) DESC, proposal_id LIMIT $3",
        keys["keys"],
        new_copy,
        resemblance_projection.CANDIDATES,
    )
    monkeypatch.setattr(resemblance_projection, "SHARERS_PER_KEY", 3)
    found = await resemblance_projection.candidates(pool, list(keys["keys"]), new_copy)
    assert found == [row["proposal_id"] for row in every_sharer_counted] == copies[:10]
    # The follower records the new copy against those ten, comparing it with their text once: they are
    # copies of one text.
    compared: list[Any] = []

    def counted(*args: Any) -> Any:
        compared.append(args)
        return compare(*args)

    monkeypatch.setattr(resemblance_projection, "compare", counted)
    await ResemblanceFinder(pool).catch_up()
    recorded = await resemblances_of(pool, new_copy)
    assert sorted(uuid.UUID(item["proposal_id"]) for item in recorded) == copies[:10]
    assert len(compared) == 1
    assert len({(item["score"], json.dumps(item["passages"])) for item in recorded}) == 1


async def test_key_sets_recorded_before_they_were_named_are_named_alike(
    pool: asyncpg.Pool, service: ReviewService
) -> None:
    # Migration 0014 names the key sets of texts fingerprinted before it from their band rows; the
    # follower names a new text's from its keys: one name for one set, or copies would go unfound.
    for proposal in [*demo_proposals(), the_copy(), demo_proposals()[0]]:
        await submit(service, proposal)
    await ResemblanceFinder(pool).catch_up()
    by_follower = await pool.fetch(
        "SELECT proposal_id, key_set FROM review.resemblance_fingerprints ORDER BY 1"
    )
    [migration] = [m for m in shipped_migrations() if m.name == "0014_resemblance_key_sets.sql"]
    [naming] = [
        statement
        for statement in (strip_comments(part) for part in migration.sql.split(";"))
        if statement.startswith("UPDATE")
    ]
    await pool.execute("UPDATE review.resemblance_fingerprints SET key_set = NULL")
    await pool.execute(naming)
    by_migration = await pool.fetch(
        "SELECT proposal_id, key_set FROM review.resemblance_fingerprints ORDER BY 1"
    )
    assert by_migration == by_follower
    assert len({row["key_set"] for row in by_follower}) == 6  # the two copies of one text share theirs
    assert None not in {row["key_set"] for row in by_follower}


def strip_comments(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--")).strip()


async def test_the_evidence_of_a_pair_is_stored_compressed_with_lz4_also_after_a_rebuild(
    pool: asyncpg.Pool, service: ReviewService
) -> None:
    # As for event data (migration 0010): the passages of a copy are its whole text twice.
    await submit(service, demo_proposals()[0])
    copy_id = await submit(service, the_copy())
    await ResemblanceFinder(pool).catch_up()
    compression = "SELECT pg_column_compression(passages) FROM review.resemblances WHERE later_id = $1"
    assert await pool.fetchval(compression, copy_id) == "lz4"
    await rebuild_resemblances(pool)
    assert await pool.fetchval(compression, copy_id) == "lz4"


async def test_reviewers_and_auditors_read_resemblances_through_the_api(
    database_url: str,
    amqp_url: str,
    topology: Topology,
    keys: Keys,
    pool: asyncpg.Pool,
    service: ReviewService,
) -> None:
    earlier_id = await submit(service, demo_proposals()[0])
    copy_id = await submit(service, the_copy())
    async with running(review_app(database_url, amqp_url, topology)) as client:
        # The service's own follower (as the runtime role) finds the pair.
        async def found() -> list[dict[str, Any]]:
            answer = await client.get(f"/v1/proposals/{copy_id}/resemblances", headers=bearer(keys.reviewer))
            assert answer.status_code == 200, answer.text
            items: list[dict[str, Any]] = answer.json()["items"]
            return items

        [item] = await eventually(found)
        assert (item["proposal_id"], item["relation"]) == (str(earlier_id), "earlier")
        assert item["passages"][0].keys() >= {"section", "text", "other_text"}

        answer = await client.get(f"/v1/proposals/{earlier_id}/resemblances", headers=bearer(keys.auditor))
        assert [i["relation"] for i in answer.json()["items"]] == ["later"]

        page = await client.get("/v1/resemblances?limit=1&round=2023", headers=bearer(keys.auditor))
        assert page.status_code == 200
        [pair] = page.json()["items"]
        assert (pair["later"]["proposal_id"], pair["earlier"]["proposal_id"]) == (
            str(copy_id),
            str(earlier_id),
        )
        assert page.json()["next_cursor"] is None
        none = await client.get("/v1/resemblances?round=2022", headers=bearer(keys.auditor))
        assert none.json()["items"] == []

        unknown = await client.get(
            f"/v1/proposals/{uuid.uuid4()}/resemblances", headers=bearer(keys.reviewer)
        )
        assert unknown.status_code == 404
        refused = await client.get(f"/v1/proposals/{copy_id}/resemblances", headers=bearer(keys.submitter))
        assert refused.status_code == 403
        bad = await client.get("/v1/resemblances?cursor=bm90LWEtY3Vyc29y", headers=bearer(keys.reviewer))
        assert bad.status_code == 422


async def test_the_consoles_proposal_page_shows_the_resemblance_with_its_passages_side_by_side(
    database_url: str,
    amqp_url: str,
    topology: Topology,
    keys: Keys,
    pool: asyncpg.Pool,
    service: ReviewService,
) -> None:
    original = demo_proposals()[0]
    earlier_id = await submit(service, original)
    copy_id = await submit(service, the_copy())
    async with running(review_app(database_url, amqp_url, topology)) as client:

        async def found() -> list[dict[str, Any]] | None:
            return await resemblances_of(pool, copy_id) or None

        [item] = await eventually(found)
        assert (await sign_in(client, keys.reviewer)).status_code == 303
        page = await client.get(f"/console/proposals/{copy_id}")
        assert page.status_code == 200, page.text
        panel = page.text.split('id="kemiripan"', 1)[1]
        assert f'href="/console/proposals/{earlier_id}"' in panel
        assert html.escape(original["title"], quote=False) in panel
        assert "tercatat lebih dulu" in panel
        assert f"{round(item['score'] * 100)}% mirip" in panel
        for passage in item["passages"]:
            assert html.escape(passage["text"], quote=False) in panel
            assert html.escape(passage["other_text"], quote=False) in panel

        earlier_page = await client.get(f"/console/proposals/{earlier_id}")
        assert "tercatat kemudian" in earlier_page.text.split('id="kemiripan"', 1)[1]

        unrelated = await submit(service, demo_proposals()[1])
        quiet = await client.get(f"/console/proposals/{unrelated}")
        assert "Tidak ada proposal lain yang mirip" in quiet.text


async def test_the_panel_shows_the_highest_scoring_few_and_links_to_all_of_them(
    database_url: str,
    amqp_url: str,
    topology: Topology,
    keys: Keys,
    pool: asyncpg.Pool,
    service: ReviewService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(console_resemblances, "SHOWN_FIRST", 1)
    await submit(service, demo_proposals()[0])
    copy_id = await submit(service, the_copy())
    await submit(service, a_replication())  # the copy's text again: a second pair of the copy's
    async with running(review_app(database_url, amqp_url, topology)) as client:

        async def both() -> list[dict[str, Any]] | None:
            found = await resemblances_of(pool, copy_id)
            return found if len(found) == 2 else None

        every = await eventually(both)
        assert [item["score"] for item in every] == sorted((item["score"] for item in every), reverse=True)
        assert await resemblances_of(pool, copy_id, limit=1) == every[:1]
        assert (await sign_in(client, keys.reviewer)).status_code == 303

        def others_in(page: str) -> list[str]:
            panel = page.split('id="kemiripan"', 1)[1]
            ids = [item["proposal_id"] for item in every]
            return [other for other in ids if f'href="/console/proposals/{other}"' in panel]

        first = await client.get(f"/console/proposals/{copy_id}")
        assert others_in(first.text) == [every[0]["proposal_id"]]
        assert f'href="/console/proposals/{copy_id}?kemiripan=semua#kemiripan"' in first.text
        assert "Tampilkan 1 kemiripan lain" in first.text

        whole = await client.get(f"/console/proposals/{copy_id}?kemiripan=semua")
        assert others_in(whole.text) == [item["proposal_id"] for item in every]
        assert "kemiripan lain" not in whole.text


async def test_a_submission_writes_in_one_statement_and_a_revision_replaces_what_its_text_found(
    pool: asyncpg.Pool, service: ReviewService
) -> None:
    # Round trips are what the finder pays per text under load. A proposal's first text has nothing to
    # replace: after looking up earlier texts, one statement writes its pairs, fingerprint and keys. A
    # revision first deletes what its earlier text found.
    original = await submit(service, demo_proposals()[0])
    await ResemblanceFinder(pool).catch_up()
    copy_id = await submit(service, the_copy())
    writes = await statements_of_a_pass(pool)
    assert len(writes) == 1, writes
    assert "INSERT INTO review.resemblances" in writes[0]
    assert "INSERT INTO review.resemblance_fingerprints" in writes[0]
    [pair] = await resemblances_of(pool, copy_id)
    assert pair["proposal_id"] == str(original)

    await revise(service, copy_id, {**demo_proposals()[4], "region": the_copy()["region"]})
    writes = await statements_of_a_pass(pool)
    assert len(writes) == 2, writes
    assert "DELETE FROM review.resemblances" in writes[0]
    assert await resemblances_of(pool, copy_id) == []
    # Its keys are its revised text's alone: those of the same text submitted afresh.
    afresh = await submit(service, {**demo_proposals()[4], "region": the_copy()["region"]})
    await ResemblanceFinder(pool).catch_up()
    keys_of = "SELECT array_agg(key ORDER BY key) FROM review.resemblance_bands WHERE proposal_id = $1"
    assert await pool.fetchval(keys_of, copy_id) == await pool.fetchval(keys_of, afresh)


async def statements_of_a_pass(pool: asyncpg.Pool) -> list[str]:
    """The statements one pass of the finder writes the resemblance tables with (its checkpoint aside)."""
    sent: list[str] = []
    async with pool.acquire() as conn:
        conn.add_query_logger(lambda logged: sent.append(logged.query))
        await resemblance_projection.follow(conn)
    return [
        query
        for query in sent
        if "resemblance" in query and ("INSERT" in query or "DELETE" in query) and "checkpoint" not in query
    ]
