"""Round rules: one JSON data file per KIPP round (`kipp-<year>.json`), shipped with the code; a directory
of the operator's (`KIPP_ROUNDS_DIR`) adds rounds or replaces shipped ones, file by file."""

import json
import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.validation import refusal


class GroupRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # A replication group takes innovations adapted from another region; they must name the original.
    replication: bool = False


class RoundRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    round: int
    about: str = ""
    # Submissions and revisions are taken from the opening to the closing day, both whole days in WIB.
    opens_on: date
    closes_on: date
    min_years_in_operation: int = Field(ge=0, le=100)
    sdg_range: tuple[int, int]
    groups: dict[str, GroupRules]
    categories: list[str]
    sections: dict[str, Annotated[int, Field(ge=1)]]  # section name -> word limit
    # A section's character cap is its word limit times this: one endless "word", or words padded out
    # with anything that is not a word, stays within what a reader can be given.
    chars_per_word: int = Field(default=15, ge=1, le=1000)
    required_documents: list[str]

    @model_validator(mode="after")
    def _window(self) -> "RoundRules":
        if self.opens_on > self.closes_on:
            raise ValueError(f"opens_on ({self.opens_on}) is after closes_on ({self.closes_on})")
        if self.closes_on.year <= self.min_years_in_operation:
            raise ValueError("closes_on is too early to count min_years_in_operation back from it")
        return self

    def char_cap(self, section: str) -> int:
        return self.sections[section] * self.chars_per_word


@dataclass(frozen=True)
class RoundBook:
    """Every round the ledger knows, by year."""

    rounds: dict[int, RoundRules]

    def get(self, year: int) -> RoundRules | None:
        return self.rounds.get(year)


class RoundFileError(ValueError):
    """A round file that cannot be used; the message names the file."""


_FILE_NAME = re.compile(r"kipp-(\d{4})\.json")


def _read(name: str, text: str) -> RoundRules:
    try:
        data: Any = json.loads(text)
        rules = RoundRules.model_validate(data)
    except ValidationError as error:
        raise RoundFileError(f"{name}: not a round file: {refusal(error, 'the file')}") from None
    except ValueError as error:  # JSONDecodeError
        raise RoundFileError(f"{name}: not a round file: {error}") from None
    found = _FILE_NAME.fullmatch(Path(name).name)
    if found is None or int(found.group(1)) != rules.round:
        raise RoundFileError(f"{name}: a file of round {rules.round} is named kipp-{rules.round}.json")
    return rules


@cache
def shipped_rounds() -> RoundBook:
    """The round files shipped in this package, read once per process."""
    rounds: dict[int, RoundRules] = {}
    for entry in resources.files(__package__).iterdir():
        if entry.name.startswith("kipp-") and entry.name.endswith(".json"):
            rules = _read(entry.name, entry.read_text(encoding="utf-8"))
            rounds[rules.round] = rules
    return RoundBook(rounds)


def load_rounds(directory: str | None) -> RoundBook:
    """The shipped rounds, with each `kipp-<year>.json` in `directory` (when given) added or replacing the
    shipped file of its year: how an operator extends a deadline or adds a round without changing code.
    Raises RoundFileError, naming the file, for a file (or directory) that cannot be used."""
    shipped = shipped_rounds()
    if not directory:
        return shipped
    folder = Path(directory)
    if not folder.is_dir():
        raise RoundFileError(f"{directory}: KIPP_ROUNDS_DIR is not a directory")
    rounds = dict(shipped.rounds)
    for path in sorted(folder.glob("kipp-*.json")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise RoundFileError(f"{path}: cannot be read: {error}") from None
        rules = _read(str(path), text)
        rounds[rules.round] = rules
    return RoundBook(rounds)
