"""The lock in requirements/ agrees with pyproject.toml, and `make run` installs only the runtime set while
`make test` adds the test and lint tools."""

import re
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# What only the tests, the linters and the type checker use.
DEV_TOOLS = {"pytest", "pytest-asyncio", "testcontainers", "ruff", "mypy", "asyncpg-stubs", "types-pyyaml"}


def pins(name: str) -> dict[str, str]:
    """requirements/<name>: each package and its pinned version, after checking every pin has hashes."""
    text = (ROOT / "requirements" / name).read_text()
    found: dict[str, str] = {}
    for entry in re.split(r"\n(?=\S)", text):
        if not entry.strip() or entry.startswith("#"):
            continue
        match = re.match(r"([A-Za-z0-9._-]+)==(\S+)", entry)
        assert match, entry
        assert "--hash=sha256:" in entry, match.group(1)
        found[canonicalize_name(match.group(1))] = match.group(2)
    return found


def declared(requirements: list[str]) -> list[Requirement]:
    return [Requirement(line) for line in requirements]


@pytest.mark.parametrize(
    ("lock", "requirements"),
    [
        ("runtime.txt", PYPROJECT["project"]["dependencies"]),
        (
            "dev.txt",
            PYPROJECT["project"]["dependencies"] + PYPROJECT["project"]["optional-dependencies"]["dev"],
        ),
        ("build.txt", PYPROJECT["build-system"]["requires"]),
    ],
)
def test_the_lock_pins_every_declared_dependency_within_its_bounds(
    lock: str, requirements: list[str]
) -> None:
    locked = pins(lock)
    for requirement in declared(requirements):
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{name} is not in requirements/{lock}: run `make lock`"
        assert requirement.specifier.contains(locked[name], prereleases=True), (name, locked[name])


def test_the_runtime_set_has_no_test_or_lint_tools_and_the_dev_set_agrees_with_it() -> None:
    runtime, dev = pins("runtime.txt"), pins("dev.txt")
    assert not DEV_TOOLS & runtime.keys()
    assert dev.keys() >= DEV_TOOLS
    assert {name: dev[name] for name in runtime} == runtime  # the same versions under `make test`


def dry_run(target: str) -> str:
    """The commands `make <target>` would run from scratch (`make -n -B`: printed, not run)."""
    done = subprocess.run(
        ["make", "-n", "-B", target], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout


def test_make_run_installs_the_runtime_lock_alone_and_make_test_adds_the_dev_lock() -> None:
    run = dry_run("run")
    assert "--require-hashes -r requirements/build.txt -r requirements/runtime.txt" in run
    assert "requirements/dev.txt" not in run
    assert "[dev]" not in run
    assert "sh requirements/asyncapi-react.sh shared/asyncapi-react" in run
    test = dry_run("test")
    assert "--require-hashes -r requirements/dev.txt" in test
    assert "--no-deps" in test  # the project itself, its dependencies coming from the lock alone
