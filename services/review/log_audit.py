"""The history in the database against the checkpoints the log signed and kept outside it.

Whoever can rewrite the database can cut off the last events and rebuild the hash chain so that it walks
clean. They cannot make the history match a checkpoint signed before: the Merkle root over the first N
events, recomputed from the events themselves (never from the stored tree, which they could rewrite
too), must be the signed root of the checkpoint of size N. The first kept checkpoint that does not match
names the range the change lies in; a history shorter than a checkpoint names the positions missing.
"""

from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from services.review.eventstore.base import RecordedEvent
from services.review.tlog import leaf_of
from services.review.views import event_view
from shared.tlog.merkle import Frontier
from shared.tlog.note import Checkpoint, NoteError, VerifierKey, open_note


@dataclass(frozen=True)
class LogReport:
    intact: bool
    checkpoints: int  # kept checkpoints compared
    largest: int  # the size of the largest of them
    reason: str | None = None
    first_position: int | None = None  # the range the change lies in, or the positions missing
    last_position: int | None = None
    events: list[dict[str, Any]] | None = None  # the events of that range still in the database (at most 10)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def kept_checkpoints(directory: str | Path, key: VerifierKey) -> list[Checkpoint]:
    """Every checkpoint in the directory, each checked against the log's key, smallest first."""
    found = []
    for path in sorted(Path(directory).glob("*.checkpoint")):
        try:
            found.append(Checkpoint.parse(open_note(path.read_text(encoding="utf-8"), key)))
        except NoteError as error:
            raise NoteError(f"{path}: {error}") from None
    return sorted(found, key=lambda checkpoint: checkpoint.size)


async def verify_against_checkpoints(
    events: AsyncIterator[RecordedEvent], kept: list[Checkpoint]
) -> LogReport:
    frontier = Frontier()
    pending = [checkpoint for checkpoint in kept if checkpoint.size > 0]
    largest = pending[-1].size if pending else 0
    matched = 0  # the size of the last checkpoint found matching
    window: list[dict[str, Any]] = []  # the events since the last match (for naming a mismatch)
    async for event in events:
        if not pending:
            break
        view = event_view(event)
        frontier.add(leaf_of(view))
        if len(window) < 10:
            window.append({key: view[key] for key in ("position", "event_id", "proposal_id", "type")})
        while pending and pending[0].size == frontier.size:
            checkpoint = pending.pop(0)
            if frontier.root() != checkpoint.root:
                return LogReport(
                    False,
                    len(kept),
                    largest,
                    f"the first {checkpoint.size} events are not the ones the log signed: a change among"
                    f" positions {matched + 1}..{checkpoint.size}",
                    matched + 1,
                    checkpoint.size,
                    window,
                )
            matched, window = checkpoint.size, []
    if pending:
        return LogReport(
            False,
            len(kept),
            largest,
            f"the history ends at position {frontier.size}, but the log signed a checkpoint of"
            f" {pending[-1].size} events: positions {frontier.size + 1}..{pending[-1].size} are missing",
            frontier.size + 1,
            pending[-1].size,
            [],
        )
    return LogReport(True, len(kept), largest)
