"""Auditors' operations against the same work written by hand: `kipp audit verify` (the hash chain, then the
history against the log's kept checkpoints) and `kipp verify export` (an NDJSON export against a signed
checkpoint, offline), each run as a child process, timed, with its own peak RSS.

The references are plain loops doing what the commands prove, nothing more: rows read in pages (or the
export's lines), the JSON decoded, SHA-256 chained over each event's sorted-key compact JSON (the bytes the
product's chain hashes: RFC 8785 is that for the events recorded here), each event's leaf hashed into an
RFC 9162 Merkle frontier and its root compared with the signed checkpoint's."""

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from benchmarks import rebuild
from benchmarks.common import peak_rss_mb, scratch_database
from benchmarks.proofs import build_tree
from services.review.tlog import sign_checkpoint
from shared.db import create_pool
from shared.tlog.note import Checkpoint, NoteSigner, VerifierKey, open_note

ORIGIN = "bench.kipp.local/log"


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class Root:
    """An RFC 9162 tree's root over leaves added one by one (the frontier of complete subtrees)."""

    def __init__(self) -> None:
        self.size = 0
        self.stack: list[tuple[int, bytes]] = []

    def add(self, leaf: bytes) -> None:
        level, digest = 0, hashlib.sha256(b"\x00" + leaf).digest()
        while self.stack and self.stack[-1][0] == level:
            level, digest = level + 1, hashlib.sha256(b"\x01" + self.stack.pop()[1] + digest).digest()
        self.stack.append((level, digest))
        self.size += 1

    def root(self) -> bytes:
        digest = self.stack[-1][1]
        for _, left in reversed(self.stack[:-1]):
            digest = hashlib.sha256(b"\x01" + left + digest).digest()
        return digest


def signed(checkpoint_file: Path, vkey: str) -> Checkpoint:
    return Checkpoint.parse(open_note(checkpoint_file.read_text(encoding="utf-8"), VerifierKey.parse(vkey)))


async def reference_verify(url: str, checkpoint_file: Path, vkey: str) -> int:
    """The chain from the genesis and the Merkle root over the events, from the database."""
    checkpoint = signed(checkpoint_file, vkey)
    conn = await asyncpg.connect(url)
    previous, tree, after = bytes(32), Root(), 0
    while True:
        rows = await conn.fetch(
            "SELECT position, stream_id, version, event_id, type, schema_version, data::text, metadata::text,"
            " to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS recorded_at,"
            " hash FROM review.events WHERE position > $1 ORDER BY position LIMIT 1000",
            after,
        )
        for position, stream, version, event_id, kind, schema, data, metadata, at, stored in rows:
            if position != after + 1:
                raise SystemExit(f"a gap at {after + 1}")
            content = {
                "position": position,
                "stream_id": str(stream),
                "version": version,
                "event_id": str(event_id),
                "type": kind,
                "schema_version": schema,
                "data": json.loads(data),
                "metadata": json.loads(metadata),
                "recorded_at": at,
            }
            previous = hashlib.sha256(previous + canonical(content)).digest()
            if previous != stored:
                raise SystemExit(f"the chain breaks at {position}")
            if tree.size < checkpoint.size:
                content["proposal_id"] = content.pop("stream_id")
                tree.add(canonical(content))
            after = position
        if len(rows) < 1000:
            break
    await conn.close()
    if tree.size != checkpoint.size or tree.root() != checkpoint.root:
        raise SystemExit("the history is not the one the log signed")
    return after


def reference_verify_export(export: Path, checkpoint_file: Path, vkey: str) -> int:
    """The same proof from an export's lines, offline, as `kipp verify export` does."""
    checkpoint = signed(checkpoint_file, vkey)
    previous, tree = bytes(32), Root()
    with export.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if tree.size == checkpoint.size:
                break
            event = json.loads(line)
            stored = bytes.fromhex(event.pop("hash"))
            if event["position"] != number:
                raise SystemExit(f"a gap at {number}")
            content = dict(event)
            content["stream_id"] = content.pop("proposal_id")
            previous = hashlib.sha256(previous + canonical(content)).digest()
            if previous != stored:
                raise SystemExit(f"the chain breaks at {number}")
            tree.add(canonical(event))
    if tree.size != checkpoint.size or tree.root() != checkpoint.root:
        raise SystemExit("the export is not the history the log signed")
    return tree.size


def timed_child(
    command: list[str], env: dict[str, str], stdout: Any = subprocess.DEVNULL
) -> dict[str, float]:
    """Runs a command to its end: its wall time and its own peak RSS (read while it runs)."""
    began = time.perf_counter()
    with tempfile.TemporaryFile() as errors:
        child = subprocess.Popen(command, env=env, stdout=stdout, stderr=errors)
        peak = 0.0
        while child.poll() is None:
            peak = max(peak, peak_rss_mb(child.pid))
            time.sleep(0.05)
        seconds = time.perf_counter() - began
        if child.returncode != 0:
            errors.seek(0)
            raise RuntimeError(f"{command} failed: {errors.read().decode()[-2000:]}")
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(peak, 1)}


async def prepare(url: str, events: int, directory: Path) -> str:
    """`events` events through the product's append path, the tree over them and a signed checkpoint kept
    in `directory` with its leaf-hash tiles, as review keeps them. Returns the log's verifier key."""
    await rebuild.generate(url, events)
    await rebuild.settle(url)
    signer = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    pool = await create_pool(url, min_size=1, max_size=2)
    try:
        await build_tree(pool)
        await sign_checkpoint(pool, signer, directory)
    finally:
        await pool.close()
    return str(signer.verifier)


def ratio_round(product: dict[str, float], reference: dict[str, float]) -> tuple[float, dict[str, Any]]:
    ratio = reference["seconds"] / product["seconds"]  # rates over the same events: the inverse of times
    return ratio, {"product": product, "reference": reference}


async def measure(events: int, rounds: int) -> dict[str, Any]:
    python = sys.executable
    async with scratch_database() as url:
        work = Path(tempfile.mkdtemp(prefix="kipp-bench-audit-"))
        checkpoints = work / "checkpoints"
        vkey = await prepare(url, events, checkpoints)
        (checkpoint_file,) = sorted(checkpoints.glob("*.checkpoint"))
        env = {**os.environ, "KIPP_DATABASE_URL": url, "KIPP_CHECKPOINT_DIR": str(checkpoints)}
        kipp = [python, "-m", "services.cli"]
        export = work / "export.ndjson"
        with export.open("wb") as out:
            exported = timed_child([*kipp, "events", "export"], env, stdout=out)
        exported["megabytes"] = round(export.stat().st_size / 1e6, 1)
        verify, offline = [], []
        for _ in range(rounds):
            product = timed_child([*kipp, "audit", "verify", "--log-key", vkey], env)
            reference = timed_child(
                [python, "-m", "benchmarks.audit", "verify", url, str(checkpoint_file), vkey], env
            )
            verify.append(ratio_round(product, reference))
            product = timed_child(
                [
                    *kipp,
                    "verify",
                    "export",
                    str(export),
                    "--checkpoint",
                    str(checkpoint_file),
                    "--log-key",
                    vkey,
                ],
                env,
            )
            reference = timed_child(
                [python, "-m", "benchmarks.audit", "export", str(export), str(checkpoint_file), vkey], env
            )
            offline.append(ratio_round(product, reference))
        export.unlink()
    return {"events": events, "export": exported, "verify": verify, "verify_export": offline}


if __name__ == "__main__":
    kind, *arguments = sys.argv[1:]
    if kind == "verify":
        checked = asyncio.run(reference_verify(arguments[0], Path(arguments[1]), arguments[2]))
    else:
        checked = reference_verify_export(Path(arguments[0]), Path(arguments[1]), arguments[2])
    print(json.dumps({"checked": checked}))
