"""CPU time by process, read from /proc: where a run spent the machine. End to end, this is what says
which process a submission costs the most, and how many submissions a second the machine's cores could
carry at that cost, whatever the services did with their time."""

import os
from collections.abc import Callable
from pathlib import Path

_PROC = Path("/proc")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far; 0 for one that is gone."""
    try:
        fields = (_PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pids_named(command: str) -> list[int]:
    """Every process on this machine whose command name is `command` (PostgreSQL's backends are all
    `postgres`, RabbitMQ's runtime is `beam.smp`)."""
    found: list[int] = []
    if not _PROC.is_dir():  # not Linux: nothing to count, and the figures say so by their absence
        return found
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == command:
                    found.append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError):
                continue
    return found


class CpuMeter:
    """CPU seconds spent by groups of processes between start() and stop(). A group is looked up again at
    stop(), so a database backend that started during the run is counted; one that ended is not."""

    def __init__(self, groups: dict[str, Callable[[], list[int]]]) -> None:
        self.groups = groups
        self._before: dict[int, float] = {}

    def start(self) -> None:
        self._before = {pid: cpu_seconds(pid) for pids in self.groups.values() for pid in pids()}

    def stop(self) -> dict[str, float]:
        return {
            name: sum(cpu_seconds(pid) - self._before.get(pid, 0.0) for pid in set(pids()))
            for name, pids in self.groups.items()
        }
