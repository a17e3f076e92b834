"""Round rules: one JSON data file per KIPP round (`kipp-<year>.json`), shipped with the code."""

import json
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources

from pydantic import BaseModel, ConfigDict, Field


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
    # A section's character cap is its word limit times this: one endless "word", or words padded out
    # with anything that is not a word, stays within what a reader can be given.
    chars_per_word: int = Field(default=15, ge=1, le=1000)
    required_documents: list[str]

    def char_cap(self, section: str) -> int:
        return self.sections[section] * self.chars_per_word


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
