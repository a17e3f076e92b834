"""The history against the checkpoints and leaf hashes kept outside the database: a rewritten event is
named exactly (position, event, proposal) when its leaf hash is kept, by range when it is not; a tail cut
off names the positions missing."""

import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.review.eventstore.base import RecordedEvent
from services.review.log_audit import published_key, verify_against_checkpoints, verify_history
from services.review.tlog import leaf_of
from services.review.views import event_view
from shared.tlog.merkle import leaf_hash, root_of
from shared.tlog.note import Checkpoint, NoteError, NoteSigner
from shared.tlog.tiles import WIDTH, LeafTiles

ORIGIN = "test.kipp.local/log"


def history(n: int) -> list[RecordedEvent]:
    start = datetime(2023, 4, 1, tzinfo=UTC)
    return [
        RecordedEvent(
            position,
            uuid.uuid5(uuid.NAMESPACE_OID, str(position % 7)),
            position,
            uuid.uuid5(uuid.NAMESPACE_URL, str(position)),
            "ProposalVerified",
            2,
            {"at": "2023-04-10T08:00:00Z", "notes": f"catatan {position}"},
            {"actor": {"name": "Rina"}},
            start + timedelta(seconds=position),
            bytes(32),
        )
        for position in range(1, n + 1)
    ]


def leaf_hashes(events: Iterable[RecordedEvent]) -> list[bytes]:
    return [leaf_hash(leaf_of(event_view(event))) for event in events]


def signed(events: list[RecordedEvent], *sizes: int) -> list[Checkpoint]:
    """Checkpoints of these sizes (their signatures are checked where they are read, not here)."""
    hashes = leaf_hashes(events)
    return [Checkpoint(ORIGIN, size, root_of(hashes[:size])) for size in sizes]


async def stream(events: list[RecordedEvent]) -> AsyncIterator[RecordedEvent]:
    for event in events:
        yield event


def rewritten(events: list[RecordedEvent], position: int) -> list[RecordedEvent]:
    changed = replace(events[position - 1], data={**events[position - 1].data, "notes": "diubah"})
    return [*events[: position - 1], changed, *events[position:]]


N = 2 * WIDTH + 30


async def test_a_rewritten_event_is_named_by_position_event_and_proposal(tmp_path: Path) -> None:
    events = history(N)
    kept = signed(events, 100, N)
    tiles = LeafTiles(tmp_path)
    tiles.extend(0, leaf_hashes(events))
    assert (await verify_against_checkpoints(stream(events), kept, tiles)).intact

    changed = rewritten(events, 300)
    report = await verify_against_checkpoints(stream(changed), kept, tiles)
    assert not report.intact
    assert (report.first_position, report.last_position, report.leaves_compared) == (300, 300, N)
    event = changed[299]
    assert f"position 300 (event {event.event_id}, proposal {event.stream_id})" in (report.reason or "")
    assert report.events == [
        {"position": 300, "event_id": str(event.event_id), "proposal_id": str(event.stream_id),
         "type": "ProposalVerified"}
    ]  # fmt: skip


async def test_without_kept_leaf_hashes_a_rewrite_is_named_by_the_range_between_checkpoints(
    tmp_path: Path,
) -> None:
    events = history(N)
    kept = signed(events, 100, N)
    report = await verify_against_checkpoints(stream(rewritten(events, 300)), kept, LeafTiles(tmp_path))
    assert (report.intact, report.first_position, report.last_position) == (False, 101, N)
    assert "a change among positions 101..542" in (report.reason or "")
    assert "for 0 of the 542 events" in (report.tiles_problem or "")


async def test_altered_leaf_hashes_are_not_trusted_beyond_the_last_checkpoint_they_match(
    tmp_path: Path,
) -> None:
    events = history(N)
    kept = signed(events, 100, N)
    hashes = leaf_hashes(events)
    hashes[299] = leaf_hash(b"what a rewrite would like kept")  # someone rewrote the tiles too
    tiles = LeafTiles(tmp_path)
    tiles.extend(0, hashes)
    report = await verify_against_checkpoints(stream(rewritten(events, 300)), kept, tiles)
    assert (report.intact, report.first_position, report.last_position) == (False, 101, N)
    assert report.leaves_compared == 100
    assert "do not lead to the signed root of 542 events" in (report.tiles_problem or "")


async def test_a_tail_cut_off_names_the_positions_missing(tmp_path: Path) -> None:
    events = history(N)
    kept = signed(events, 100, N)
    tiles = LeafTiles(tmp_path)
    tiles.extend(0, leaf_hashes(events))
    report = await verify_against_checkpoints(stream(events[:400]), kept, tiles)
    assert (report.intact, report.first_position, report.last_position) == (False, 401, N)
    assert f"positions 401..{N} are missing" in (report.reason or "")


async def test_kept_checkpoints_are_checked_with_the_published_key_not_the_signers_own(
    tmp_path: Path,
) -> None:
    events = history(4)
    LeafTiles(tmp_path).extend(0, leaf_hashes(events))
    log = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    (tmp_path / "000000000004.checkpoint").write_text(log.sign(signed(events, 4)[0].text()))
    published = tmp_path / "log-key.vkey"
    assert published_key(published) is None  # nothing published yet

    published.write_text(f"{log.verifier}\n")
    key = published_key(published)
    assert key is not None
    report = await verify_history(stream(rewritten(events, 3)), tmp_path, key)
    assert (report.intact, report.first_position, report.last_position) == (False, 3, 3)

    # A process whose key is not the one published keeps checkpoints no auditor can check.
    published.write_text(f"{NoteSigner(ORIGIN, Ed25519PrivateKey.generate()).verifier}\n")
    other = published_key(published)
    assert other is not None
    with pytest.raises(NoteError, match=r"000000000004\.checkpoint"):
        await verify_history(stream(events), tmp_path, other)


async def test_an_intact_history_vouches_for_the_kept_leaf_hashes_it_matches(tmp_path: Path) -> None:
    # The kept hashes are checked against the signed roots only when one differs or the history fails; an
    # intact history reports what that check would have found.
    events = history(N)
    kept = signed(events, 100, N)
    tiles = LeafTiles(tmp_path / "all")
    tiles.extend(0, leaf_hashes(events))
    report = await verify_against_checkpoints(stream(events), kept, tiles)
    assert (report.intact, report.leaves_compared, report.tiles_problem) == (True, N, None)

    short = LeafTiles(tmp_path / "short")
    short.extend(0, leaf_hashes(events)[:WIDTH])
    report = await verify_against_checkpoints(stream(events), kept, short)
    assert (report.intact, report.leaves_compared) == (True, 100)
    assert f"for {WIDTH} of the {N} events" in (report.tiles_problem or "")


async def test_an_altered_kept_leaf_hash_does_not_fail_an_intact_history(tmp_path: Path) -> None:
    events = history(N)
    kept = signed(events, 100, N)
    hashes = leaf_hashes(events)
    hashes[299] = leaf_hash(b"what someone wrote into the tiles")
    tiles = LeafTiles(tmp_path)
    tiles.extend(0, hashes)
    report = await verify_against_checkpoints(stream(events), kept, tiles)
    assert (report.intact, report.leaves_compared) == (True, 100)
    assert "do not lead to the signed root of 542 events" in (report.tiles_problem or "")
