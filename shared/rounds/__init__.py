"""Round rules: one JSON data file per KIPP round (`kipp-<year>.json`), shipped with the code."""

import json
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources

from pydantic import BaseModel, ConfigDict


class GroupRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # A replication group takes innovations adapted from another region; they must name the original.
    replication: bool = False


class RoundRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    round: int
    about: str = ""
    closes_on: date
    min_years_in_operation: int
    sdg_range: tuple[int, int]
    groups: dict[str, GroupRules]
    categories: list[str]
    sections: dict[str, int]  # section name -> word limit
    required_documents: list[str]


@dataclass(frozen=True)
class RoundBook:
    """Every round the ledger knows, by year."""

    rounds: dict[int, RoundRules]

    def get(self, year: int) -> RoundRules | None:
        return self.rounds.get(year)


@cache
def shipped_rounds() -> RoundBook:
    """The round files shipped in this package, read once per process."""
    rounds: dict[int, RoundRules] = {}
    for entry in resources.files(__package__).iterdir():
        if entry.name.startswith("kipp-") and entry.name.endswith(".json"):
            rules = RoundRules.model_validate(json.loads(entry.read_text(encoding="utf-8")))
            rounds[rules.round] = rules
    return RoundBook(rounds)
