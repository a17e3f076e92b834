"""`kipp personal-data rotate-master-key`: every data key re-wrapped under a new master key, people still
found by their address, the old key retired; refused while a service is connected."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from shared.db import connect
from shared.personal_data.master_key import MasterKeyInvalid, load_master_key
from shared.personal_data.vault import check_master_key, data_key_for, find_subject
from shared.settings import CommonSettings


def rotate(database_url: str, key_file: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KIPP_DATABASE_URL": database_url, "KIPP_MASTER_KEY_FILE": str(key_file)}
    command = [sys.executable, "-m", "services.cli", "personal-data", "rotate-master-key"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def beside(key_file: Path) -> set[str]:
    """The files in the key's directory."""
    return {path.name for path in key_file.parent.iterdir()}


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    """A copy of this run's master key: rotating replaces the file."""
    copy = tmp_path / "master-key"
    shutil.copy(CommonSettings().master_key_file, copy)
    return copy


async def test_rotation_rewraps_every_key_and_retires_the_old_master_key(
    database_url: str, key_file: Path
) -> None:
    old = load_master_key(key_file)
    conn = await connect(database_url)
    try:
        await check_master_key(conn, old, str(key_file))
        people = {
            address: await data_key_for(conn, old, address) for address in ("a@example.id", "b@example.id")
        }
    finally:
        await conn.close()

    done = rotate(database_url, key_file)

    assert done.returncode == 0, done.stderr
    new = load_master_key(key_file)
    assert new.check_value != old.check_value
    assert beside(key_file) == {key_file.name, f"{key_file.name}.retired-{old.check_value}"}
    conn = await connect(database_url)
    try:
        await check_master_key(conn, new, str(key_file))
        for address, key in people.items():
            found = await find_subject(conn, new, address.upper())
            assert found is not None
            assert found.key == key  # the same person, the same data key
        with pytest.raises(MasterKeyInvalid, match="is not the one that wraps"):
            await check_master_key(conn, old, "the old file")
    finally:
        await conn.close()


async def test_rotation_is_refused_while_a_service_is_connected(database_url: str, key_file: Path) -> None:
    before = load_master_key(key_file)
    service = await asyncpg.connect(database_url, server_settings={"application_name": "kipp-review"})
    try:
        done = rotate(database_url, key_file)
    finally:
        await service.close()
    assert done.returncode == 2
    assert "stop both services" in done.stderr
    assert load_master_key(key_file) == before
    assert beside(key_file) == {key_file.name}
