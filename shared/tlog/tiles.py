"""The log's leaf hashes kept as files, in the C2SP tlog-tiles layout (https://c2sp.org/tlog-tiles).

A level-0 tile is 256 consecutive leaf hashes (32 bytes each, concatenated): tile N holds leaves
[256 N, 256 N + 256). Its path is `tile/0/<N>`, N in zero-padded three-digit groups, all but the last
prefixed with `x` (tile 1234067 is `tile/0/x001/x234/067`). The tile at the end of a log whose size is
not a multiple of 256 is partial: `tile/0/<N>.p/<W>` holds its first W hashes.

The log writes them beside its signed checkpoints, outside the database, as it signs each one. They are
authenticated by those checkpoints (the root over the first `size` kept hashes must be the signed root),
so whoever can rewrite the database, but not sign as the log, cannot make them agree with a rewrite; and
with them an auditor names the exact event that no longer hashes as it did, not only a range.
"""

import contextlib
import functools
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from shared.tlog.merkle import root_of

WIDTH = 256
HASH_SIZE = 32
TILE_LEVEL = 8  # the 256 leaves of a full tile are one node of the tree, at this level
assert 1 << TILE_LEVEL == WIDTH


def tile_path(index: int, width: int = WIDTH) -> str:
    """The C2SP path of level-0 tile `index` (`width` < 256: the partial tile of that many hashes)."""
    groups = []
    while True:
        groups.append(f"{index % 1000:03d}")
        index //= 1000
        if not index:
            break
    digits = "/".join([f"x{group}" for group in reversed(groups[1:])] + [groups[0]])
    return f"tile/0/{digits}" + (f".p/{width}" if width < WIDTH else "")


class TileMismatch(RuntimeError):
    """Kept leaf hashes that the ones being written do not extend: the log's leaves changed."""


class LeafTiles:
    """Level-0 tiles in a directory: written as the log grows, read back in order in constant memory."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def _file(self, index: int, width: int = WIDTH) -> Path:
        return self.directory / tile_path(index, width)

    def _partial(self, index: int) -> tuple[int, Path] | None:
        """The widest partial tile kept for tile `index`, if any."""
        folder = self.directory / (tile_path(index) + ".p")
        widths = (
            [int(entry.name) for entry in folder.glob("*") if entry.name.isdigit()] if folder.is_dir() else []
        )
        return (max(widths), folder / str(max(widths))) if widths else None

    def full_tiles(self) -> int:
        """How many full tiles are kept. They are written in order, so the first missing one ends them:
        found by doubling, then halving, in O(log n) look-ups."""

        def exists(index: int) -> bool:
            return self._file(index).exists()

        if not exists(0):
            return 0
        high = 1
        while exists(high):
            high *= 2
        low = high // 2  # tile low is kept, tile high is not
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if exists(middle) else (low, middle)
        return high

    def size(self) -> int:
        """How many leaf hashes are kept."""
        full = self.full_tiles()
        partial = self._partial(full)
        return full * WIDTH + (partial[0] if partial else 0)

    def full_tile_hash(self, index: int) -> bytes:
        """The Merkle root over full tile `index` (the tree's node over its 256 leaves). Remembered while
        the file stays the one it was (a full tile is written once): a long log hashes its tiles once per
        process, not at every checkpoint."""
        path = self._file(index)
        status = path.stat()
        return _tile_hash(path, status.st_ino, status.st_mtime_ns, status.st_size)

    def hashes(self, limit: int | None = None) -> Iterator[bytes]:
        """The kept leaf hashes from leaf 0, in order, one tile in memory at a time."""
        index, given = 0, 0
        while limit is None or given < limit:
            content = self._read(index)
            if content is None:
                return
            for start in range(0, len(content) - HASH_SIZE + 1, HASH_SIZE):
                if limit is not None and given >= limit:
                    return
                yield content[start : start + HASH_SIZE]
                given += 1
            if len(content) < WIDTH * HASH_SIZE:
                return
            index += 1

    def _read(self, index: int) -> bytes | None:
        """Tile `index`, full or the widest partial one; None when neither is kept. A partial tile the log
        replaces while it is being read is looked for again."""
        for _ in range(3):
            try:
                return self._file(index).read_bytes()
            except FileNotFoundError:
                partial = self._partial(index)
                if partial is None:
                    return None
                try:
                    return partial[1].read_bytes()
                except FileNotFoundError:
                    continue
        return None

    def extend(self, start: int, hashes: Iterable[bytes]) -> int:
        """Keeps the leaf hashes of leaves [start, ...): `start` is where a tile begins, at or before the
        end of what is kept. What is kept already must be where the new hashes say (else TileMismatch,
        and nothing is changed). Full tiles are written once; a partial tile replaces the narrower one.
        Returns how many hashes are kept now."""
        if start % WIDTH:
            raise ValueError(f"leaf {start} does not begin a tile")
        index, tile = start // WIDTH, bytearray()
        for digest in hashes:
            tile += digest
            if len(tile) == WIDTH * HASH_SIZE:
                self._keep(index, bytes(tile))
                index, tile = index + 1, bytearray()
        if tile:
            self._keep(index, bytes(tile))
        return index * WIDTH + len(tile) // HASH_SIZE

    def _keep(self, index: int, content: bytes) -> None:
        width = len(content) // HASH_SIZE
        full = self._file(index)
        kept = full.read_bytes() if full.exists() else None
        partial = self._partial(index)
        if kept is None and partial is not None:
            kept = partial[1].read_bytes()
        if kept is not None:
            shorter = min(len(kept), len(content))
            if kept[:shorter] != content[:shorter]:
                raise TileMismatch(
                    f"{self.directory / tile_path(index)} keeps other leaf hashes than the log has"
                )
            if len(kept) >= len(content):
                return
        try:
            write_once(self._file(index, width), content, prefix=".tile-")
        except FileExistsError:
            raise TileMismatch(
                f"{self._file(index, width)} keeps other leaf hashes than the log has"
            ) from None
        if partial is not None:  # superseded by the wider tile just written (C2SP allows removing it)
            partial[1].unlink(missing_ok=True)
            if width == WIDTH:
                with contextlib.suppress(OSError):  # not empty: something else lies there, leave it
                    partial[1].parent.rmdir()


@functools.lru_cache(maxsize=1 << 16)  # 16 million leaves' tiles, some 10 MB
def _tile_hash(path: Path, inode: int, modified_ns: int, size: int) -> bytes:
    content = path.read_bytes()
    return root_of([content[start : start + HASH_SIZE] for start in range(0, len(content), HASH_SIZE)])


def write_once(path: Path, content: bytes, prefix: str) -> None:
    """Writes the whole file or nothing, never over another file, and durably: a temporary file (named
    `prefix`..., `.tmp`, which readers ignore), flushed to disk, then linked into place, and the directory
    flushed too, so that a crash leaves either no file or the whole one (at worst a temporary file, which
    the next write does not need). A file already there with this content is left as it is; with another
    content, FileExistsError."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)
        try:
            os.link(temporary, path)
        except FileExistsError:
            if path.read_bytes() != content:
                raise FileExistsError(f"{path} holds another content") from None
            return
        _sync_directory(path.parent)
    finally:
        os.unlink(temporary)


def _sync_directory(folder: Path) -> None:
    """Makes a new name in `folder` survive a crash (POSIX: the link is durable once the directory is)."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
