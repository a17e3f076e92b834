"""What an operator must fix before a service can start (a malformed file in KIPP_ROUNDS_DIR, a missing
signing key) stops it at start-up with one line naming the file."""

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("service", ["intake", "review"])
def test_a_malformed_round_file_stops_the_service_naming_the_file(tmp_path: Path, service: str) -> None:
    bad = tmp_path / "kipp-2023.json"
    bad.write_text('{"round": 2023, "closes_on": "2023-05-06"', encoding="utf-8")
    env = {**os.environ, "KIPP_ROUNDS_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", f"services.{service}"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"{service}: {bad}: not a round file: ")


@pytest.mark.parametrize("service", ["intake", "review"])
def test_a_missing_signing_key_stops_the_service_naming_the_file(tmp_path: Path, service: str) -> None:
    absent = tmp_path / "no-such-key.pem"
    env = {**os.environ, f"KIPP_{service.upper()}_SIGNING_KEY_FILE": str(absent)}
    done = subprocess.run(
        [sys.executable, "-m", f"services.{service}"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line == f"{service}: no signing key at {absent}: `kipp migrate` creates it"
