"""A malformed file in KIPP_ROUNDS_DIR stops a service at start-up, with one line naming the file."""

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
