"""The event store as a transparency log (RFC 9162): the Merkle tree over the events, its proofs, and
signed checkpoints kept outside the database.

Leaf `i` is the event at position `i + 1`, as the history shows it without its chain hash, in RFC 8785
canonical JSON: an export line without `hash` is the leaf. The tree is kept by a follower of the log
(`extend_tree`): for each event its leaf hash, and every aligned subtree it completes. Proofs and roots are
then read from O(log n) stored nodes.

Checkpoints (C2SP tlog-checkpoint signed notes) are signed with the log's Ed25519 key, stored, and written
as files to a directory outside the database, with the leaf hashes they cover (C2SP tiles, level 0: an
auditor names from them the exact event a rewrite changed). The log never signs a checkpoint that does
not extend the last one it signed: the consistency proof between them is checked first.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from services.review.eventstore.postgres import row_to_event
from services.review.eventstore.subscription import EVENT_COLUMNS, Subscription
from services.review.views import event_view
from shared.canonical import canonical_json
from shared.db import Connection
from shared.tlog.merkle import (
    aligned_parts,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    range_hash,
    verify_consistency,
)
from shared.tlog.note import Checkpoint, NoteSigner, split_note
from shared.tlog.tiles import WIDTH, LeafTiles
from shared.worker import Worker

NAME = "merkle_tree"
SUBSCRIPTION = Subscription(NAME, EVENT_COLUMNS, 1000)
SIGNING_LOCK = 7_401_0013


def leaf_of(view: dict[str, object]) -> bytes:
    """The leaf bytes of an event from its history view (the `hash` member, if there, left out)."""
    return canonical_json({key: value for key, value in view.items() if key != "hash"})


async def extend_tree(conn: Connection, rows: list[asyncpg.Record]) -> None:
    """Adds the batch's events as leaves, with every subtree they complete (the follower's handler)."""
    made: dict[tuple[int, int], bytes] = {}
    for row in rows:
        event = row_to_event(row)
        index = event.position - 1
        digest = leaf_hash(leaf_of(event_view(event)))
        level = 0
        made[level, index] = digest
        while index % 2:  # a right child completes its parent
            left = made.get((level, index - 1)) or await _node(conn, level, index - 1)
            digest = node_hash(left, digest)
            level, index = level + 1, index // 2
            made[level, index] = digest
    await conn.execute(
        "INSERT INTO review.merkle_nodes (level, index, hash)"
        " SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])",
        [level for level, _ in made],
        [index for _, index in made],
        list(made.values()),
    )


async def _node(conn: Connection, level: int, index: int) -> bytes:
    found = await conn.fetchval(
        "SELECT hash FROM review.merkle_nodes WHERE level = $1 AND index = $2", level, index
    )
    if found is None:
        raise LookupError(f"the tree has no node {level}/{index}: it is behind the log")
    return bytes(found)


async def tree_size(conn: Connection | asyncpg.Pool) -> int:
    return int(
        await conn.fetchval("SELECT position FROM review.projection_checkpoints WHERE name = $1", NAME)
    )


class _Nodes:
    """The stored nodes a computation needs, fetched in one query: the computation runs once to learn
    which ranges it reads, then again over what was fetched."""

    def __init__(self) -> None:
        self.wanted: set[tuple[int, int]] = set()
        self.found: dict[tuple[int, int], bytes] = {}

    def want(self, start: int, size: int) -> bytes:
        self.wanted.update(aligned_parts(start, size))
        return b""

    def range(self, start: int, size: int) -> bytes:
        return range_hash(lambda level, index: self.found[level, index], start, size)

    async def fetch(self, conn: Connection | asyncpg.Pool) -> None:
        rows = await conn.fetch(
            "SELECT n.level, n.index, n.hash FROM review.merkle_nodes AS n"
            " JOIN unnest($1::smallint[], $2::bigint[]) AS w(level, index) USING (level, index)",
            [level for level, _ in self.wanted],
            [index for _, index in self.wanted],
        )
        self.found = {(row["level"], row["index"]): bytes(row["hash"]) for row in rows}
        if len(self.found) != len(self.wanted):
            raise LookupError("the tree is behind the size asked for")


async def root(conn: Connection | asyncpg.Pool, size: int) -> bytes:
    nodes = _Nodes()
    nodes.want(0, size)
    await nodes.fetch(conn)
    return nodes.range(0, size)


async def prove_inclusion(
    conn: Connection | asyncpg.Pool, index: int, size: int
) -> tuple[bytes, list[bytes]]:
    """The leaf hash and the inclusion proof of leaf `index` in the tree of `size` leaves."""
    nodes = _Nodes()
    inclusion_proof(index, size, nodes.want)
    nodes.wanted.add((0, index))
    await nodes.fetch(conn)
    return nodes.found[0, index], inclusion_proof(index, size, nodes.range)


async def prove_consistency(conn: Connection | asyncpg.Pool, first: int, second: int) -> list[bytes]:
    nodes = _Nodes()
    consistency_proof(first, second, nodes.want)
    await nodes.fetch(conn)
    return consistency_proof(first, second, nodes.range)


@dataclass(frozen=True)
class SignedCheckpoint:
    checkpoint: Checkpoint
    note: str


async def latest_checkpoint(conn: Connection | asyncpg.Pool) -> SignedCheckpoint | None:
    row = await conn.fetchrow(
        "SELECT size, root, note FROM review.log_checkpoints ORDER BY size DESC LIMIT 1"
    )
    if row is None:
        return None
    text, _ = split_note(row["note"])
    return SignedCheckpoint(Checkpoint.parse(text), row["note"])


async def sign_checkpoint(
    pool: asyncpg.Pool, signer: NoteSigner, directory: str | Path, at_least: int = 0
) -> SignedCheckpoint | None:
    """Signs a checkpoint of the tree as it stands, unless the last one already covers it (and `at_least`).
    It must extend the last one signed, which the consistency proof between them shows; otherwise the
    log refuses to sign (two inconsistent checkpoints would prove the log lied). The note is written to
    `directory` as `<size>.checkpoint` before the transaction commits."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", SIGNING_LOCK)
        size = await tree_size(conn)
        last = await latest_checkpoint(conn)
        if last is not None and last.checkpoint.size >= size:
            return last
        if size == 0 or size < at_least:
            return last
        head = await root(conn, size)
        if last is not None:
            proof = await prove_consistency(conn, last.checkpoint.size, size)
            verify_consistency(last.checkpoint.size, size, last.checkpoint.root, head, proof)
        checkpoint = Checkpoint(signer.name, size, head)
        note = signer.sign(checkpoint.text())
        await conn.execute(
            "INSERT INTO review.log_checkpoints (size, root, note) VALUES ($1, $2, $3)", size, head, note
        )
        await keep_leaf_hashes(conn, directory, size)
        keep_outside(directory, size, note)
        return SignedCheckpoint(checkpoint, note)


TILES_PER_READ = 64  # leaf hashes are read from the database 64 tiles (16,384 hashes) at a time


async def keep_leaf_hashes(conn: Connection, directory: str | Path, size: int) -> None:
    """Writes the leaf hashes of the first `size` leaves that are not kept yet as C2SP tiles beside the
    checkpoints (the first checkpoint signed with a long history writes all of them). A kept hash that
    the tree no longer has raises TileMismatch: the log then signs nothing."""
    tiles = LeafTiles(directory)
    kept = tiles.size()
    step = TILES_PER_READ * WIDTH
    for start in range(kept - kept % WIDTH, size, step):
        end = min(size, start + step)
        rows = await conn.fetch(
            "SELECT hash FROM review.merkle_nodes"
            " WHERE level = 0 AND index >= $1 AND index < $2 ORDER BY index",
            start,
            end,
        )
        if len(rows) != end - start:
            raise LookupError(f"the tree has not every leaf in [{start}, {end}): it is behind the log")
        tiles.extend(start, (bytes(row["hash"]) for row in rows))


def keep_outside(directory: str | Path, size: int, note: str) -> None:
    """Writes the signed checkpoint where the database's operator cannot rewrite it with the database."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{size:012d}.checkpoint"
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        if path.read_text(encoding="utf-8") != note:
            raise RuntimeError(f"{path} holds another checkpoint of size {size}") from None
        return
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(note)


def latest_kept(directory: str | Path) -> str | None:
    """The newest signed checkpoint in the directory, if any."""
    files = sorted(Path(directory).glob("*.checkpoint"))
    return files[-1].read_text(encoding="utf-8") if files else None


class TreeKeeper:
    """Keeps the tree caught up with the log (poked after appends) and signs a checkpoint whenever the
    tree has grown, at most every `checkpoint_seconds`."""

    def __init__(
        self, pool: asyncpg.Pool, signer: NoteSigner, directory: str, checkpoint_seconds: float
    ) -> None:
        self._pool = pool
        self._signer = signer
        self._directory = directory
        self.tree = Worker("merkle-tree", self._extend)
        self.checkpoints = Worker("checkpoint-signer", self._sign, poll_seconds=checkpoint_seconds)

    def poke(self) -> None:
        self.tree.poke()

    def start(self) -> None:
        self.tree.start()
        self.checkpoints.start()

    async def stop(self) -> None:
        await self.checkpoints.stop()
        await self.tree.stop()

    async def _extend(self) -> bool:
        async with self._pool.acquire() as conn:
            _, added = await SUBSCRIPTION.process(conn, extend_tree)
        return added == SUBSCRIPTION.batch

    async def _sign(self) -> bool:
        await sign_checkpoint(self._pool, self._signer, self._directory)
        return False
