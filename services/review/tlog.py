"""The event store as a transparency log (RFC 9162): the Merkle tree over the events, its proofs, and
signed checkpoints kept outside the database.

Leaf `i` is the event at position `i + 1`, as the history shows it without its chain hash, in RFC 8785
canonical JSON: an export line without `hash` is the leaf. The tree is kept by a follower of the log
(`extend_tree`): for each event its leaf hash, and every aligned subtree it completes. Proofs and roots are
then read from O(log n) stored nodes.

Checkpoints (C2SP tlog-checkpoint signed notes) are signed with the log's Ed25519 key, stored, and written
as files to a directory outside the database, with the leaf hashes they cover (C2SP tiles, level 0: an
auditor names from them the exact event a rewrite changed). The log never signs a checkpoint that does
not extend the last one it signed, whether the database or the directory remembers it: the consistency
proofs are checked first, and a log that finds its history forked stops signing (`SigningRefused`).
"""

import functools
import logging
from collections.abc import Sequence
from pathlib import Path

import asyncpg
from prometheus_client import Gauge

from services.review.eventstore.base import RecordedEvent
from services.review.eventstore.chain import timestamp_text, written_directly
from services.review.eventstore.postgres import row_to_event
from services.review.eventstore.subscription import EVENT_COLUMNS, Subscription
from services.review.tlog_kept import (
    SignedCheckpoint,
    SigningRefused,
    keep_outside,
    kept_path,
    newest_kept,
)
from services.review.views import event_fields
from shared.canonical import canonical_json, canonical_object, json_string
from shared.db import Connection
from shared.tlog.merkle import (
    ProofError,
    aligned_parts,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    range_hash,
    verify_consistency,
)
from shared.tlog.note import Checkpoint, NoteError, NoteSigner, open_note, split_note
from shared.tlog.tiles import TILE_LEVEL, WIDTH, LeafTiles, TileMismatch, tile_path
from shared.worker import Worker

NAME = "merkle_tree"
# The follower reads positions only: the leaves of this process's appends are made as they commit
# (RecentLeaves), and reading every event whole to find them there cost the writing process a twentieth
# of its CPU at 16 writers (decoding data and metadata it then threw away). The events whose leaves are
# not there (another process's appends, or after a restart) are read whole in one more query.
SUBSCRIPTION = Subscription(NAME, "position", 1000)
GATHER_SECONDS = 0.005
SIGNING_LOCK = 7_401_0013
SIGNING_REFUSED = Gauge(
    "kipp_log_signing_refused",
    "1 while the log refuses to sign checkpoints because its history contradicts what it signed",
)
log = logging.getLogger(__name__)


def leaf_of(view: dict[str, object]) -> bytes:
    """The leaf bytes of an event from its history view (the `hash` member, if there, left out)."""
    return canonical_json({key: value for key, value in view.items() if key != "hash"})


# The leaf's members in RFC 8785 key order, for the common case written directly (see event_leaf).
_LEAF = (
    b'{"data":%b,"event_id":"%b","metadata":%b,"position":%d,"proposal_id":"%b","recorded_at":"%b",'
    b'"schema_version":%d,"type":%b,"version":%d}'
)


def event_leaf(event: RecordedEvent) -> bytes:
    """`leaf_of(event_view(event))`, with the event's data and metadata as already encoded for its hash and
    the other members written into their places as the chain's content writes them (chain.py)."""
    data, metadata = event.encoded
    if not written_directly(event):
        return canonical_object(event_fields(event), {"data": data, "metadata": metadata})
    return _LEAF % (
        data,
        str(event.event_id).encode(),
        metadata,
        event.position,
        str(event.stream_id).encode(),
        timestamp_text(event.recorded_at).encode(),
        event.schema_version,
        json_string(event.type),
        event.version,
    )


class RecentLeaves:
    """Leaf hashes of the events this process has just appended, by position, for its tree's follower.

    The event store's writer has each event's data and metadata encoded already (for its hash) when it
    commits; the leaf made from them then costs a few microseconds, where the follower would decode the
    event from the database and encode it again. The leaf is the same bytes either way (the chain's hash
    relies on that equality already, and `kipp audit verify` recomputes every leaf from the database).
    Held in memory only and bounded: a follower that finds no leaf here (after a restart, or for another
    process's appends) makes it from the event as it always did."""

    def __init__(self, limit: int = 50_000) -> None:
        self._limit = limit
        self._leaves: dict[int, bytes] = {}

    def remember(self, events: Sequence[RecordedEvent]) -> None:
        """The store's hook after a commit: `events` as committed, in position order."""
        for event in events:
            self._leaves[event.position] = leaf_hash(event_leaf(event))
        while len(self._leaves) > self._limit:  # the oldest, which a follower that fell behind rereads
            del self._leaves[next(iter(self._leaves))]

    def take(self, position: int) -> bytes | None:
        return self._leaves.pop(position, None)


async def extend_tree(
    conn: Connection,
    rows: list[asyncpg.Record],
    recent: RecentLeaves | None = None,
    edge: dict[tuple[int, int], bytes] | None = None,
) -> None:
    """Adds the batch's events as leaves, with every subtree they complete (the follower's handler);
    a leaf this process's writer made as it committed is taken from `recent`.

    `edge` (kept by the follower between batches) holds the complete subtrees the tree ended with after
    the batch before: the left siblings this batch's subtrees need, which would otherwise be a query each
    (several per batch). A node's hash depends only on the events under it, which never change, so a kept
    node stays true whoever wrote the batches since; one not kept is read from the table as before."""
    positions = [row["position"] for row in rows]
    leaves: dict[int, bytes] = {}
    if recent is not None:
        for position in positions:
            if (leaf := recent.take(position)) is not None:
                leaves[position] = leaf
    missing = [position for position in positions if position not in leaves]
    if missing:
        for event in await conn.fetch(
            f"SELECT {EVENT_COLUMNS} FROM review.events WHERE position BETWEEN $1 AND $2",
            missing[0],
            missing[-1],
        ):
            if event["position"] not in leaves:
                leaves[event["position"]] = leaf_hash(event_leaf(row_to_event(event)))
    made: dict[tuple[int, int], bytes] = {}
    for position in positions:
        index = position - 1
        digest = leaves[position]
        level = 0
        made[level, index] = digest
        while index % 2:  # a right child completes its parent
            left = (
                made.get((level, index - 1))
                or (edge or {}).get((level, index - 1))
                or await _node(conn, level, index - 1)
            )
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
    if edge is not None:
        known = {**edge, **made}
        edge.clear()
        edge.update((part, known[part]) for part in aligned_parts(0, positions[-1]) if part in known)


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

    It must extend every checkpoint that binds the log: the newest in the database and the newest kept in
    `directory` (the database may have lost the last ones: a failover, a restore, a rewrite). The
    consistency proofs show it, and the leaf hashes kept as tiles must be the tree's, every one; otherwise
    SigningRefused, and nothing is signed or written. The note is written to `directory` only once the
    transaction has committed, so no file ever holds a checkpoint the database then forgot; a crash in
    between is mended by the next call, which writes the database's newest checkpoint if it is missing."""
    async with pool.acquire() as conn:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", SIGNING_LOCK)
            signed, unkept = await _sign_in(conn, signer, directory, at_least)
        if signed is not None and unkept:
            keep_outside(directory, signed.checkpoint.size, signed.note)
        return signed


async def _sign_in(
    conn: Connection, signer: NoteSigner, directory: str | Path, at_least: int
) -> tuple[SignedCheckpoint | None, bool]:
    """The checkpoint that covers the tree now, and whether its note is still to be kept outside."""
    size = await tree_size(conn)
    last = await latest_checkpoint(conn)
    kept = newest_kept(directory, signer.verifier)
    kept_size = kept.checkpoint.size if kept is not None else 0
    if last is not None and last.checkpoint.size >= size and kept_size <= last.checkpoint.size:
        if kept_size < last.checkpoint.size == size:  # a crash came before its note was written
            await _keep_missing(conn, signer, directory, last, kept)
            return last, True
        return last, False  # nothing new
    if kept is not None and kept.checkpoint.size > size:
        raise SigningRefused(
            f"the log signed a checkpoint of {kept.checkpoint.size} events, kept in"
            f" {kept_path(directory, kept.checkpoint.size)}, but its tree in the database has {size}: the"
            " database has lost events the log signed (a failover to a standby that lacked the last"
            " commits, or a restore from an older backup); bring them back before it signs again"
        )
    forgotten = kept is not None and (last is None or kept.checkpoint.size > last.checkpoint.size)
    if kept is not None and forgotten and (kept.checkpoint.size == size or size < at_least):
        # The database forgot a checkpoint the log signed (a failover, a restore): remember it again.
        await _must_extend(conn, kept.checkpoint.size, directory, last, kept)
        await keep_leaf_hashes(conn, directory, kept.checkpoint.size)
        await _record(conn, kept)
        return kept, False
    if size == 0 or size < at_least:
        return last, False
    head = await _must_extend(conn, size, directory, last, kept)
    await keep_leaf_hashes(conn, directory, size)
    checkpoint = Checkpoint(signer.name, size, head)
    signed = SignedCheckpoint(checkpoint, signer.sign(checkpoint.text()))
    await _record(conn, signed)
    return signed, True


async def _keep_missing(
    conn: Connection,
    signer: NoteSigner,
    directory: str | Path,
    last: SignedCheckpoint,
    kept: SignedCheckpoint | None,
) -> None:
    """The leaf hashes of the database's newest checkpoint, whose note is not kept yet (the caller writes
    it): only a note the log's key signed, over a tree that extends the newest one kept, is written."""
    try:
        open_note(last.note, signer.verifier)
    except NoteError as error:
        raise SigningRefused(
            f"the newest checkpoint in review.log_checkpoints does not verify: {error}"
        ) from None
    head = await _must_extend(conn, last.checkpoint.size, directory, None, kept)
    if head != last.checkpoint.root:
        raise SigningRefused(
            f"the newest checkpoint in review.log_checkpoints is not the tree's of {last.checkpoint.size}"
        )
    await keep_leaf_hashes(conn, directory, last.checkpoint.size)


async def _must_extend(
    conn: Connection,
    size: int,
    directory: str | Path,
    recorded: SignedCheckpoint | None,
    kept: SignedCheckpoint | None,
) -> bytes:
    """The root of the tree of `size` leaves, once the consistency proofs show it extends the newest
    checkpoint recorded in the database and the newest kept in `directory` (else SigningRefused, naming
    the one it does not extend)."""
    head = await root(conn, size)
    for signed, where in ((recorded, "in review.log_checkpoints"), (kept, "kept in the directory")):
        if signed is None:
            continue
        old = signed.checkpoint
        try:
            proof = await prove_consistency(conn, old.size, size)
            verify_consistency(old.size, size, old.root, head, proof)
        except ProofError as error:
            if where != "in review.log_checkpoints":
                where = f"kept in {kept_path(directory, old.size)}"
            raise SigningRefused(
                f"the tree of {size} events in the database does not extend the checkpoint of {old.size}"
                f" events the log signed, {where}: its history has forked ({error}); the log signs"
                " nothing more"
            ) from None
    return head


async def _record(conn: Connection, signed: SignedCheckpoint) -> None:
    await conn.execute(
        "INSERT INTO review.log_checkpoints (size, root, note) VALUES ($1, $2, $3)",
        signed.checkpoint.size,
        signed.checkpoint.root,
        signed.note,
    )


TILES_PER_READ = 64  # leaf hashes are read from the database 64 tiles (16,384 hashes) at a time


async def keep_leaf_hashes(conn: Connection, directory: str | Path, size: int) -> None:
    """Writes the leaf hashes of the first `size` leaves as C2SP tiles beside the checkpoints, once every
    tile already kept there over them is found to be the tree's (else SigningRefused: the log then signs
    nothing). A full tile is compared by its hash with the tree's node over its 256 leaves (one row each,
    and the file hashed once per process); the partial one, and what is new, leaf by leaf."""
    tiles = LeafTiles(directory)
    full = min(tiles.size(), size) // WIDTH
    await _compare_full_tiles(conn, tiles, full)
    step = TILES_PER_READ * WIDTH
    for start in range(full * WIDTH, size, step):
        end = min(size, start + step)
        rows = await conn.fetch(
            "SELECT hash FROM review.merkle_nodes"
            " WHERE level = 0 AND index >= $1 AND index < $2 ORDER BY index",
            start,
            end,
        )
        if len(rows) != end - start:
            raise LookupError(f"the tree has not every leaf in [{start}, {end}): it is behind the log")
        try:
            tiles.extend(start, (bytes(row["hash"]) for row in rows))
        except TileMismatch as mismatch:
            raise SigningRefused(f"{mismatch}: its history has forked; the log signs nothing more") from None


async def _compare_full_tiles(conn: Connection, tiles: LeafTiles, count: int) -> None:
    rows = await conn.fetch(
        "SELECT index, hash FROM review.merkle_nodes WHERE level = $1 AND index < $2 ORDER BY index",
        TILE_LEVEL,
        count,
    )
    if len(rows) != count:
        raise LookupError(
            f"the tree has not every node over the {count} full tiles kept: it is behind the log"
        )
    for row in rows:
        if tiles.full_tile_hash(row["index"]) != bytes(row["hash"]):
            path = tiles.directory / tile_path(row["index"])
            raise SigningRefused(
                f"{path} keeps other leaf hashes than the log has: its history has forked; the log signs"
                " nothing more"
            )


class TreeKeeper:
    """Keeps the tree caught up with the log (poked after appends) and signs a checkpoint whenever the
    tree has grown, at most every `checkpoint_seconds`."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        signer: NoteSigner,
        directory: str,
        checkpoint_seconds: float,
        recent: RecentLeaves | None = None,
    ) -> None:
        self._pool = pool
        self._recent = recent
        self._edge: dict[tuple[int, int], bytes] = {}  # see extend_tree
        self._signer = signer
        self._directory = directory
        self._refused: str | None = None  # why signing was last refused, while it is
        # Nobody waits on the tree event by event (checkpoints are signed every few seconds): a poke waits
        # GATHER_SECONDS, so one writer's appends make a batch rather than a pass each (a pass is six round
        # trips, beside the append that poked it).
        self.tree = Worker("merkle-tree", self._extend, gather_seconds=GATHER_SECONDS)
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
            extend = functools.partial(extend_tree, recent=self._recent, edge=self._edge)
            _, added = await SUBSCRIPTION.process(conn, extend)
        return added == SUBSCRIPTION.batch

    async def _sign(self) -> bool:
        """A refusal is an alert, not a fault to retry at once: logged at error level when it starts or its
        reason changes, shown by the gauge while it lasts, and looked at again every poll, so that signing
        resumes by itself once an operator has brought back what the database lost."""
        try:
            await sign_checkpoint(self._pool, self._signer, self._directory)
        except SigningRefused as refused:
            SIGNING_REFUSED.set(1)
            if str(refused) != self._refused:
                log.error("the log refuses to sign checkpoints: %s", refused)
                self._refused = str(refused)
            return False
        if self._refused is not None:
            log.warning("the log signs checkpoints again")
            self._refused = None
        SIGNING_REFUSED.set(0)
        return False
