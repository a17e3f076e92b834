"""Leaf hashes kept as C2SP tiles beside the checkpoints: the layout, writing as the log grows, reading
back in order, and refusing to keep leaf hashes that contradict the ones kept."""

from pathlib import Path

import pytest

from shared.tlog.merkle import leaf_hash, root_of
from shared.tlog.tiles import WIDTH, LeafTiles, TileMismatch, tile_path


def hashes(n: int, salt: str = "") -> list[bytes]:
    return [leaf_hash(f"event {i}{salt}".encode()) for i in range(n)]


@pytest.mark.parametrize(
    ("index", "width", "path"),
    [
        (0, WIDTH, "tile/0/000"),
        (5, 17, "tile/0/005.p/17"),
        (999, WIDTH, "tile/0/999"),
        (1000, WIDTH, "tile/0/x001/000"),
        (1234067, WIDTH, "tile/0/x001/x234/067"),  # the example of the C2SP tlog-tiles specification
        (1234067, 1, "tile/0/x001/x234/067.p/1"),
    ],
)
def test_tiles_are_named_as_c2sp_tlog_tiles_names_them(index: int, width: int, path: str) -> None:
    assert tile_path(index, width) == path


def test_leaf_hashes_kept_as_the_log_grows_read_back_in_order(tmp_path: Path) -> None:
    tiles, leaves = LeafTiles(tmp_path), hashes(3 * WIDTH + 40)
    assert (tiles.size(), list(tiles.hashes())) == (0, [])
    assert tiles.extend(0, leaves[:10]) == 10
    assert tiles.extend(0, leaves[: WIDTH + 3]) == WIDTH + 3  # the partial tile grows into a full one
    assert tiles.extend(WIDTH, leaves[WIDTH:]) == len(leaves)
    assert tiles.size() == len(leaves)
    assert list(tiles.hashes()) == leaves
    assert list(tiles.hashes(limit=WIDTH + 1)) == leaves[: WIDTH + 1]
    assert (tmp_path / "tile/0/002").read_bytes() == b"".join(leaves[2 * WIDTH : 3 * WIDTH])
    assert [p.name for p in (tmp_path / "tile/0/003.p").iterdir()] == ["40"]  # narrower ones removed
    assert not (tmp_path / "tile/0/000.p").exists()


@pytest.mark.parametrize("tiles_kept", [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33])
def test_how_many_full_tiles_are_kept_is_found_for_any_count(tmp_path: Path, tiles_kept: int) -> None:
    tiles = LeafTiles(tmp_path)
    tiles.extend(0, hashes(tiles_kept * WIDTH + 1))
    assert tiles.full_tiles() == tiles_kept
    assert tiles.size() == tiles_kept * WIDTH + 1


def test_leaf_hashes_that_contradict_the_kept_ones_are_refused_and_nothing_changes(tmp_path: Path) -> None:
    tiles, leaves = LeafTiles(tmp_path), hashes(WIDTH + 5)
    tiles.extend(0, leaves)
    other = hashes(WIDTH + 9, salt="rewritten")
    with pytest.raises(TileMismatch, match="other leaf hashes"):
        tiles.extend(0, other)  # the full tile differs
    with pytest.raises(TileMismatch):
        tiles.extend(WIDTH, [*leaves[WIDTH : WIDTH + 4], other[0], *other[1:4]])  # the partial one does
    assert list(tiles.hashes()) == leaves
    assert root_of(list(tiles.hashes())) == root_of(leaves)


def test_only_whole_tiles_are_extended(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not begin a tile"):
        LeafTiles(tmp_path).extend(3, hashes(2))


def test_a_full_tile_hash_is_its_merkle_root_and_follows_the_file(tmp_path: Path) -> None:
    tiles, leaves = LeafTiles(tmp_path), hashes(WIDTH + 1)
    tiles.extend(0, leaves)
    assert tiles.full_tile_hash(0) == root_of(leaves[:WIDTH])
    replacement = tmp_path / "replacement"
    replacement.write_bytes(b"".join(hashes(WIDTH, salt="rewritten")))
    replacement.replace(tmp_path / tile_path(0))  # the file altered behind the log's back
    assert tiles.full_tile_hash(0) == root_of(hashes(WIDTH, salt="rewritten"))
