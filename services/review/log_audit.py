"""The history in the database against the checkpoints the log signed and kept outside it.

Whoever can rewrite the database can cut off the last events, or change one and rebuild the hash chain
after it, so that the chain walks clean. They cannot make the history match a checkpoint signed before:
the Merkle root over the first N events, recomputed from the events themselves (never from the stored
tree, which they could rewrite too), must be the signed root of the checkpoint of size N.

Beside the checkpoints the log keeps every leaf hash they cover (C2SP tiles, `shared/tlog/tiles.py`).
Those are first checked against the signed roots; every event's recomputed leaf hash is then compared
with the kept one, so a change is named exactly: its position, its event and its proposal. Where no
leaf hashes are kept (checkpoints kept before the log wrote tiles), the first checkpoint that does not
match names the range the change lies in. A history shorter than a checkpoint names the positions
missing. Memory stays constant: one tile and the tree's O(log n) frontier at a time.
"""

from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from services.review.eventstore.base import RecordedEvent
from services.review.tlog import event_leaf
from services.review.tlog_kept import SUFFIX
from shared.tlog.merkle import Frontier, leaf_hash
from shared.tlog.note import Checkpoint, NoteError, VerifierKey, open_note
from shared.tlog.tiles import LeafTiles


@dataclass(frozen=True)
class LogReport:
    intact: bool
    checkpoints: int  # kept checkpoints compared
    largest: int  # the size of the largest of them
    reason: str | None = None
    first_position: int | None = None  # the position changed, the range the change lies in, or missing
    last_position: int | None = None
    events: list[dict[str, Any]] | None = None  # the events there still in the database (at most 10)
    leaves_compared: int = 0  # kept leaf hashes, vouched for by the checkpoints, compared one by one
    tiles_problem: str | None = None  # why fewer kept leaf hashes could be used than the checkpoints cover

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def kept_checkpoints(directory: str | Path, key: VerifierKey) -> list[Checkpoint]:
    """Every checkpoint in the directory, each checked against the log's key, smallest first. One that does
    not verify is a NoteError naming its file: the audit cannot vouch for a history against it (a note
    cut short by a crash of a version that wrote notes in place, or altered). The temporary files the log
    writes a note to before linking it into place are not checkpoints."""
    found = []
    for path in sorted(Path(directory).glob(f"*{SUFFIX}")):
        try:
            found.append(Checkpoint.parse(open_note(path.read_text(encoding="utf-8"), key)))
        except NoteError as error:
            raise NoteError(
                f"{path}: not a checkpoint the log signed, cut short or altered ({error})"
            ) from None
    return sorted(found, key=lambda checkpoint: checkpoint.size)


def vouched_leaves(tiles: LeafTiles, kept: list[Checkpoint]) -> tuple[int, str | None]:
    """How many kept leaf hashes the signed checkpoints vouch for (the size of the largest checkpoint whose
    root they reproduce, every smaller one included), and why not all that the checkpoints cover."""
    pending = [checkpoint for checkpoint in kept if checkpoint.size > 0]
    if not pending:
        return 0, None
    frontier, vouched = Frontier(), 0
    for digest in tiles.hashes(limit=pending[-1].size):
        frontier.add_hash(digest)
        while pending and pending[0].size == frontier.size:
            checkpoint = pending.pop(0)
            if frontier.root() != checkpoint.root:
                return vouched, (
                    f"the leaf hashes kept in {tiles.directory} do not lead to the signed root of"
                    f" {checkpoint.size} events: they were altered after leaf {vouched}"
                )
            vouched = checkpoint.size
    if pending:
        return vouched, (
            f"leaf hashes are kept in {tiles.directory} for {frontier.size} of the {pending[-1].size} events"
            " signed: beyond them a change is named by range"
        )
    return vouched, None


def _summary(event: RecordedEvent) -> dict[str, Any]:
    return {
        "position": event.position,
        "event_id": str(event.event_id),
        "proposal_id": str(event.stream_id),
        "type": event.type,
    }


async def verify_against_checkpoints(
    events: AsyncIterator[RecordedEvent], kept: list[Checkpoint], tiles: LeafTiles | None = None
) -> LogReport:
    vouched, tiles_problem = vouched_leaves(tiles, kept) if tiles else (0, None)
    kept_hashes: Iterator[bytes] = tiles.hashes(limit=vouched) if tiles else iter(())
    frontier = Frontier()
    pending = [checkpoint for checkpoint in kept if checkpoint.size > 0]
    largest = pending[-1].size if pending else 0
    matched = 0  # the size of the last checkpoint found matching
    window: list[dict[str, Any]] = []  # the events since the last match (for naming a mismatch)

    def failed(reason: str, first: int, last: int, found: list[dict[str, Any]]) -> LogReport:
        return LogReport(False, len(kept), largest, reason, first, last, found, vouched, tiles_problem)

    async for event in events:
        if not pending:
            break
        digest = leaf_hash(event_leaf(event))
        position = frontier.size + 1
        if frontier.size < vouched and digest != next(kept_hashes):
            found = f"event {event.event_id}, proposal {event.stream_id}"
            if event.position != position:
                found += f", stored at position {event.position}"
            return failed(
                f"position {position} ({found}) is not the event the log signed: its leaf hash is not the"
                " one kept beside the checkpoints",
                position,
                position,
                [_summary(event)],
            )
        frontier.add_hash(digest)
        if len(window) < 10:
            window.append(_summary(event))
        while pending and pending[0].size == frontier.size:
            checkpoint = pending.pop(0)
            if frontier.root() != checkpoint.root:
                return failed(
                    f"the first {checkpoint.size} events are not the ones the log signed: a change among"
                    f" positions {matched + 1}..{checkpoint.size}",
                    matched + 1,
                    checkpoint.size,
                    window,
                )
            matched, window = checkpoint.size, []
    if pending:
        return failed(
            f"the history ends at position {frontier.size}, but the log signed a checkpoint of"
            f" {pending[-1].size} events: positions {frontier.size + 1}..{pending[-1].size} are missing",
            frontier.size + 1,
            pending[-1].size,
            [],
        )
    return LogReport(True, len(kept), largest, leaves_compared=vouched, tiles_problem=tiles_problem)


def published_key(vkey_file: str | Path) -> VerifierKey | None:
    """The log's verifier key as published in `vkey_file` (`kipp migrate` writes it): what anyone who
    checks the log uses, rather than a key a running service says is its own. None when there is no file;
    NoteError when it holds no key."""
    path = Path(vkey_file)
    return VerifierKey.parse(path.read_text(encoding="utf-8").strip()) if path.exists() else None


async def verify_history(
    events: AsyncIterator[RecordedEvent], checkpoint_dir: str | Path, key: VerifierKey
) -> LogReport:
    """What `kipp audit verify` and the console's verification page check: every checkpoint kept in
    `checkpoint_dir`, each signed with `key`, against the history, with the leaf hashes kept beside them
    so a rewritten event is named by position, event and proposal. NoteError when a kept checkpoint is
    not signed with `key`."""
    kept = kept_checkpoints(checkpoint_dir, key)
    return await verify_against_checkpoints(events, kept, LeafTiles(checkpoint_dir))
