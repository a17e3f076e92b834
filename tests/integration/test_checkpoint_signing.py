"""The log signs a checkpoint only over a history that extends everything it signed: the checkpoints in its
database and those it kept outside it, and every leaf hash it kept. A database that lost or rewrote
signed history (a failover to a standby without the last commits, a restore, a superuser's edit) makes it
refuse, say why and raise the alarm, never fork; a crash never leaves a checkpoint half written or
unwritten."""

import asyncio
import functools
import logging
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client import REGISTRY

from services.review.app import create_app as create_review
from services.review.eventstore.base import RecordedEvent
from services.review.eventstore.postgres import PostgresEventStore
from services.review.log_audit import kept_checkpoints
from services.review.settings import ReviewSettings
from services.review.tlog import (
    SIGNING_REFUSED,
    SUBSCRIPTION,
    RecentLeaves,
    TreeKeeper,
    extend_tree,
    sign_checkpoint,
)
from services.review.tlog_kept import SigningRefused, kept_path
from shared.contract import Topology
from shared.tlog.merkle import leaf_hash, node_hash
from shared.tlog.note import NoteSigner
from shared.tlog.tiles import WIDTH, LeafTiles
from tests.apps import running
from tests.integration.test_audit import record_history, tamper
from tests.keys import Keys, bearer

SIGNER = NoteSigner("test.kipp.local/log", Ed25519PrivateKey.generate())


@pytest.fixture
async def store(pool: asyncpg.Pool) -> AsyncIterator[PostgresEventStore]:
    store = PostgresEventStore(pool)
    await record_history(store)  # eight events
    yield store
    await store.stop()


async def build_tree(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        while (await SUBSCRIPTION.process(conn, extend_tree))[1]:
            pass


async def rebuild_tree(pool: asyncpg.Pool) -> None:
    """As a superuser who rewrote history: the tree built again from the events as they now stand."""
    await pool.execute("DELETE FROM review.merkle_nodes")
    await pool.execute("UPDATE review.projection_checkpoints SET position = 0 WHERE name = 'merkle_tree'")
    await build_tree(pool)


async def plant_tree(pool: asyncpg.Pool, leaves: list[bytes]) -> None:
    """The tree of these leaf hashes, every complete aligned subtree, as the tree's follower stores it."""
    nodes, level = {(0, index): digest for index, digest in enumerate(leaves)}, 0
    while len(leaves) >> (level + 1):
        for index in range(len(leaves) >> (level + 1)):
            nodes[level + 1, index] = node_hash(nodes[level, 2 * index], nodes[level, 2 * index + 1])
        level += 1
    await pool.execute("DELETE FROM review.merkle_nodes")
    await pool.execute(
        "INSERT INTO review.merkle_nodes (level, index, hash)"
        " SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])",
        [level for level, _ in nodes],
        [index for _, index in nodes],
        list(nodes.values()),
    )
    await pool.execute(
        "UPDATE review.projection_checkpoints SET position = $1 WHERE name = 'merkle_tree'", len(leaves)
    )


def leaves(n: int) -> list[bytes]:
    return [leaf_hash(f"event {i}".encode()) for i in range(n)]


async def recorded_sizes(pool: asyncpg.Pool) -> list[int]:
    return [row["size"] for row in await pool.fetch("SELECT size FROM review.log_checkpoints ORDER BY size")]


def kept_sizes(directory: Path) -> list[int]:
    return [checkpoint.size for checkpoint in kept_checkpoints(directory, SIGNER.verifier)]


async def forget_and_rewrite(pool: asyncpg.Pool, store: PostgresEventStore) -> None:
    """What a failover to a standby without the last commits, or a restore and a rewrite, leaves: the
    database's newest checkpoint gone, an event it covered changed, the tree built again from the events."""
    await pool.execute(
        "DELETE FROM review.log_checkpoints WHERE size = (SELECT max(size) FROM review.log_checkpoints)"
    )
    await tamper(
        pool, "UPDATE review.events SET data = jsonb_set(data, '{notes}', '\"changed\"') WHERE position = 6"
    )
    await rebuild_tree(pool)


@pytest.mark.parametrize("tiles_lost", [False, True], ids=["tiles-kept", "tiles-lost"])
@pytest.mark.parametrize("grown", [0, 2], ids=["same-size", "grown"])
async def test_a_kept_checkpoint_the_database_forgot_still_binds_the_log_and_a_fork_is_refused(
    store: PostgresEventStore, pool: asyncpg.Pool, tmp_path: Path, grown: int, tiles_lost: bool
) -> None:
    await build_tree(pool)
    await pool.execute("UPDATE review.projection_checkpoints SET position = 4 WHERE name = 'merkle_tree'")
    await sign_checkpoint(pool, SIGNER, tmp_path)  # as if signed when the log had four events
    await pool.execute("UPDATE review.projection_checkpoints SET position = 8 WHERE name = 'merkle_tree'")
    await sign_checkpoint(pool, SIGNER, tmp_path)
    assert (await recorded_sizes(pool), kept_sizes(tmp_path)) == ([4, 8], [4, 8])

    await forget_and_rewrite(pool, store)
    if grown:
        await tamper(
            pool,
            "INSERT INTO review.events (position, stream_id, version, event_id, type, schema_version, data,"
            " metadata, recorded_at, hash) SELECT position + 2, stream_id, version + 10, gen_random_uuid(),"
            " type, schema_version, data, metadata, recorded_at, hash FROM review.events WHERE position > 6",
        )
        await build_tree(pool)
    assert await recorded_sizes(pool) == [4]  # what the database alone knows: 8 events may now be signed
    if tiles_lost:  # checkpoints kept before the log wrote tiles: only the checkpoint itself holds the log
        shutil.rmtree(tmp_path / "tile")

    with pytest.raises(SigningRefused) as refused:
        await sign_checkpoint(pool, SIGNER, tmp_path)
    assert str(kept_path(tmp_path, 8)) in str(refused.value)
    assert "forked" in str(refused.value)
    assert (await recorded_sizes(pool), kept_sizes(tmp_path)) == ([4], [4, 8])  # nothing signed or written


async def test_a_checkpoint_the_database_forgot_is_recorded_again_when_the_history_still_holds_it(
    store: PostgresEventStore, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    await build_tree(pool)
    signed = await sign_checkpoint(pool, SIGNER, tmp_path)
    assert signed is not None
    await pool.execute("DELETE FROM review.log_checkpoints")  # the row lost, the events all there

    again = await sign_checkpoint(pool, SIGNER, tmp_path)
    assert again == signed
    assert await pool.fetchval("SELECT note FROM review.log_checkpoints WHERE size = 8") == signed.note


async def test_a_database_behind_the_newest_kept_checkpoint_is_refused_until_it_catches_up(
    store: PostgresEventStore, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    await build_tree(pool)
    await sign_checkpoint(pool, SIGNER, tmp_path)
    await pool.execute("DELETE FROM review.log_checkpoints")
    await tamper(pool, "DELETE FROM review.events WHERE position > 5")
    await rebuild_tree(pool)

    with pytest.raises(SigningRefused, match="has lost events the log signed"):
        await sign_checkpoint(pool, SIGNER, tmp_path)
    assert await recorded_sizes(pool) == []


async def test_a_leaf_changed_inside_a_full_tile_is_refused(pool: asyncpg.Pool, tmp_path: Path) -> None:
    planted = leaves(WIDTH + 44)
    await plant_tree(pool, planted)
    await sign_checkpoint(pool, SIGNER, tmp_path)
    assert (tmp_path / "tile/0/000").exists()
    assert LeafTiles(tmp_path).size() == WIDTH + 44

    # The history grows, but whoever runs the database has rewritten event 11, in the full tile 0, and
    # the tree from it; the checkpoints are lost, only the leaf hashes kept beside them still hold the log.
    rewritten = leaves(WIDTH + 60)
    rewritten[10] = leaf_hash(b"rewritten")
    await plant_tree(pool, rewritten)
    await pool.execute("DELETE FROM review.log_checkpoints")
    kept_path(tmp_path, WIDTH + 44).unlink()
    with pytest.raises(SigningRefused, match="tile/0/000 keeps other leaf hashes"):
        await sign_checkpoint(pool, SIGNER, tmp_path)
    assert await recorded_sizes(pool) == []
    assert list(LeafTiles(tmp_path).hashes()) == planted


async def test_a_note_lost_to_a_crash_after_the_commit_is_written_by_the_next_signing(
    store: PostgresEventStore, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    await build_tree(pool)
    signed = await sign_checkpoint(pool, SIGNER, tmp_path)
    assert signed is not None
    kept_path(tmp_path, 8).unlink()  # committed, then the process died before writing the note

    assert await sign_checkpoint(pool, SIGNER, tmp_path) == signed
    assert kept_path(tmp_path, 8).read_text(encoding="utf-8") == signed.note


async def test_a_leftover_temporary_file_is_ignored_and_a_truncated_note_stops_signing_naming_it(
    store: PostgresEventStore, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    await build_tree(pool)
    (tmp_path / ".checkpoint-crashed.tmp").write_text("test.kipp.local/log\n8\n", encoding="utf-8")
    signed = await sign_checkpoint(pool, SIGNER, tmp_path)
    assert signed is not None
    assert kept_sizes(tmp_path) == [8]

    # A note cut short by a crash of a version that wrote it in place, at the size the log signs next.
    await pool.execute("DELETE FROM review.log_checkpoints")
    kept_path(tmp_path, 8).write_text(signed.note[: len(signed.note) // 2], encoding="utf-8")
    with pytest.raises(SigningRefused) as refused:
        await sign_checkpoint(pool, SIGNER, tmp_path)
    assert f"{kept_path(tmp_path, 8)}, is not one the log signed" in str(refused.value)


def refusing() -> float | None:
    return REGISTRY.get_sample_value("kipp_log_signing_refused")


async def test_the_keeper_raises_the_alarm_once_and_keeps_looking_without_failing(
    store: PostgresEventStore, pool: asyncpg.Pool, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await build_tree(pool)
    await sign_checkpoint(pool, SIGNER, tmp_path)
    await forget_and_rewrite(pool, store)
    keeper = TreeKeeper(pool, SIGNER, str(tmp_path), checkpoint_seconds=0.01)
    SIGNING_REFUSED.set(0)
    with caplog.at_level(logging.INFO):
        keeper.start()
        try:
            for _ in range(1000):
                if refusing() == 1:
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.3)  # some thirty more looks at it
        finally:
            await keeper.stop()
    assert refusing() == 1
    errors = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1, errors
    assert "the log refuses to sign checkpoints" in errors[0]
    assert "forked" in errors[0]
    assert not [record for record in caplog.records if "paused, will retry" in record.getMessage()]
    assert await recorded_sizes(pool) == []


async def test_a_certificate_the_log_refuses_to_sign_for_is_answered_503_saying_why(
    store: PostgresEventStore,
    pool: asyncpg.Pool,
    tmp_path: Path,
    database_url: str,
    amqp_url: str,
    topology: Topology,
    keys: Keys,
) -> None:
    await build_tree(pool)
    await sign_checkpoint(pool, SIGNER, tmp_path)  # a note kept in the log's folder, not by the log's key
    await pool.execute("DELETE FROM review.log_checkpoints")
    proposal_id = await pool.fetchval("SELECT stream_id FROM review.events WHERE position = 1")
    settings = ReviewSettings(
        database_url=database_url, amqp_url=amqp_url, prefix=topology.prefix, checkpoint_dir=str(tmp_path)
    )
    async with running(create_review(settings)) as client:
        answer = await client.get(f"/v1/proposals/{proposal_id}/certificate", headers=bearer(keys.auditor))
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert "the log refuses to sign" in answer.json()["detail"]
    assert await recorded_sizes(pool) == []  # nothing signed


async def test_leaves_the_writer_made_as_it_committed_give_the_tree_the_database_gives(
    pool: asyncpg.Pool,
) -> None:
    recent = RecentLeaves()
    store = PostgresEventStore(pool, on_commit=recent.remember)
    await record_history(store)  # eight events, their leaves made by the writer
    await store.stop()
    recent.take(3)  # two the follower must make from the database, as after a restart or for another
    recent.take(6)  # process's appends, with leaves from memory between them

    async with pool.acquire() as conn:
        while (await SUBSCRIPTION.process(conn, functools.partial(extend_tree, recent=recent)))[1]:
            pass
    assert recent.take(5) is None  # taken by the follower: the memory holds only what is not yet in the tree
    with_leaves = await pool.fetch("SELECT level, index, hash FROM review.merkle_nodes ORDER BY 1, 2")

    await rebuild_tree(pool)  # every leaf made from the events as the database holds them
    from_database = await pool.fetch("SELECT level, index, hash FROM review.merkle_nodes ORDER BY 1, 2")
    assert len(with_leaves) == 15  # 8 leaves, 4 + 2 + 1 parents
    assert [tuple(row) for row in with_leaves] == [tuple(row) for row in from_database]


async def test_the_follower_keeps_the_trees_right_edge_and_asks_the_table_for_no_left_sibling(
    pool: asyncpg.Pool, store: PostgresEventStore
) -> None:
    await build_tree(pool)
    whole = await pool.fetch("SELECT level, index, hash FROM review.merkle_nodes ORDER BY 1, 2")
    await pool.execute("DELETE FROM review.merkle_nodes")
    await pool.execute("UPDATE review.projection_checkpoints SET position = 0 WHERE name = 'merkle_tree'")

    edge: dict[tuple[int, int], bytes] = {}
    threes = replace(SUBSCRIPTION, batch=3)  # batches of 3: each after the first needs left siblings
    async with pool.acquire() as conn:
        await threes.process(conn, functools.partial(extend_tree, edge=edge))  # leaves 1-3
        assert set(edge) == {(1, 0), (0, 2)}  # the tree over 3 leaves ends with these
        # The nodes written so far gone from the table: the next batches can only find them kept.
        await conn.execute("DELETE FROM review.merkle_nodes")
        while (await threes.process(conn, functools.partial(extend_tree, edge=edge)))[1]:
            pass
    assert set(edge) == {(3, 0)}  # eight leaves: one complete tree

    # Every node the later batches made is the one the whole build made.
    later = await pool.fetch("SELECT level, index, hash FROM review.merkle_nodes ORDER BY 1, 2")
    expected = {(row["level"], row["index"]): row["hash"] for row in whole}
    assert len(later) == 15 - 4  # all but leaves 1-3 and the node over leaves 1-2
    assert all(expected[row["level"], row["index"]] == row["hash"] for row in later)


def test_the_leaves_kept_in_memory_are_bounded() -> None:
    recent = RecentLeaves(limit=3)
    events = [
        RecordedEvent(n, uuid.uuid4(), 1, uuid.uuid4(), "T", 1, {}, {}, datetime.now(UTC), b"")
        for n in range(1, 6)
    ]
    recent.remember(events)
    assert [recent.take(n) is not None for n in range(1, 6)] == [False, False, True, True, True]
