"""Checks a structurally valid proposal against its round's rules. Pure: no I/O, no clock (the caller says
which day it is)."""

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from shared.proposal import ProposalContent
from shared.rounds import RoundBook, RoundRules


@dataclass(frozen=True)
class Violation:
    """One broken rule: which field (dotted path), which rule, and a sentence a person can act on."""

    field: str
    rule: str
    message: str


class _InvisibleAsSpace(dict[int, str]):
    """Invisible format characters (Unicode category Cf: zero-width space and joiners, word joiner, byte
    order mark, soft hyphen, direction marks...) separate words as whitespace does: a reader sees no word
    there. A table for str.translate that learns each character the first time it meets it, rather than
    classifying all 1.1 million code points when the module is imported (a third of a second for every
    process that starts)."""

    def __missing__(self, code: int) -> str:
        character = chr(code)
        self[code] = replacement = " " if unicodedata.category(character) == "Cf" else character
        return replacement


_INVISIBLE_AS_SPACE = _InvisibleAsSpace()
_LETTER_OR_DIGIT = re.compile(r"[^\W_]")


def count_words(text: str) -> int:
    """Words as a reader counts them: runs of text between whitespace or invisible characters, with at
    least one letter or digit (a lone dash or bullet is not a word)."""
    return sum(
        1
        for token in text.translate(_INVISIBLE_AS_SPACE).split()
        if token.isalnum() or _LETTER_OR_DIGIT.search(token)
    )


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year - years, day=28)


def check_proposal(proposal: ProposalContent, book: RoundBook, day: date) -> list[Violation]:
    """What `proposal` breaks of its round's rules, submitted or revised on `day` (a date in WIB)."""
    rules = book.get(proposal.round)
    if rules is None:
        known = ", ".join(str(year) for year in sorted(book.rounds))
        return [
            Violation("round", "known_round", f"round {proposal.round} is not open; known rounds: {known}")
        ]
    return [
        *_check_window(rules, day),
        *_check_group_and_category(proposal, rules),
        *_check_sections(proposal, rules),
        *_check_sdgs(proposal, rules),
        *_check_documents(proposal, rules),
        *_check_age(proposal, rules),
    ]


def check_revision(original_round: int, revision: ProposalContent) -> list[Violation]:
    """What a revision must keep from the proposal it revises."""
    if revision.round != original_round:
        message = f"a revision stays in round {original_round}; submit anew for round {revision.round}"
        return [Violation("round", "same_round", message)]
    return []


def _check_window(rules: RoundRules, day: date) -> list[Violation]:
    if rules.opens_on <= day <= rules.closes_on:
        return []
    return [
        Violation(
            "round",
            "round_closed",
            f"round {rules.round} takes proposals from {rules.opens_on} to {rules.closes_on} "
            f"(whole days in WIB), not on {day}",
        )
    ]


def _check_group_and_category(proposal: ProposalContent, rules: RoundRules) -> list[Violation]:
    found: list[Violation] = []
    group = rules.groups.get(proposal.group)
    if group is None:
        found.append(
            Violation("group", "known_group", f"group must be one of: {', '.join(sorted(rules.groups))}")
        )
    elif group.replication and proposal.replicates is None:
        found.append(
            Violation(
                "replicates",
                "required_for_replication",
                f"group '{proposal.group}' takes replications: say which innovation this replicates",
            )
        )
    if proposal.category not in rules.categories:
        found.append(
            Violation("category", "known_category", f"category must be one of: {'; '.join(rules.categories)}")
        )
    return found


def _check_sections(proposal: ProposalContent, rules: RoundRules) -> list[Violation]:
    found: list[Violation] = []
    for name, limit in rules.sections.items():
        text = proposal.sections.get(name, "")
        if len(text) > (cap := rules.char_cap(name)):
            # Refused on its length alone: words are not counted in text no reader is given.
            found.append(
                Violation(
                    f"sections.{name}",
                    "max_chars",
                    f"section '{name}' has {len(text)} characters; the cap is {cap} "
                    f"({limit} words x {rules.chars_per_word} characters)",
                )
            )
        elif (words := count_words(text)) == 0:
            found.append(Violation(f"sections.{name}", "required_section", f"section '{name}' is missing"))
        elif words > limit:
            found.append(
                Violation(
                    f"sections.{name}",
                    "max_words",
                    f"section '{name}' has {words} words; the limit is {limit}",
                )
            )
    for name in proposal.sections:
        if name not in rules.sections:
            found.append(
                Violation(
                    f"sections.{name}",
                    "known_section",
                    f"'{name}' is not a section of round {rules.round}; "
                    f"sections: {', '.join(rules.sections)}",
                )
            )
    return found


def _check_sdgs(proposal: ProposalContent, rules: RoundRules) -> list[Violation]:
    low, high = rules.sdg_range
    if not proposal.sdgs:
        return [Violation("sdgs", "min_items", "name at least one SDG")]
    found = [
        Violation(f"sdgs[{index}]", "sdg_range", f"SDG {goal} does not exist; goals are {low}..{high}")
        for index, goal in enumerate(proposal.sdgs)
        if not low <= goal <= high
    ]
    if len(set(proposal.sdgs)) != len(proposal.sdgs):
        found.append(Violation("sdgs", "unique_items", "each SDG may be named once"))
    return found


def _check_documents(proposal: ProposalContent, rules: RoundRules) -> list[Violation]:
    given = {document.kind for document in proposal.documents}
    found = [
        Violation("documents", "required_document", f"document of kind '{kind}' is required")
        for kind in rules.required_documents
        if kind not in given
    ]
    found.extend(
        Violation(
            f"documents[{index}].kind",
            "known_document",
            f"'{document.kind}' is not a document kind of round {rules.round}",
        )
        for index, document in enumerate(proposal.documents)
        if document.kind not in rules.required_documents
    )
    return found


def _check_age(proposal: ProposalContent, rules: RoundRules) -> list[Violation]:
    latest_start = years_before(rules.closes_on, rules.min_years_in_operation)
    if proposal.implemented_since > latest_start:
        return [
            Violation(
                "implemented_since",
                "min_years_in_operation",
                f"the innovation must have run for at least {rules.min_years_in_operation} year(s) before "
                f"the round closes on {rules.closes_on}: implemented on {latest_start} or earlier",
            )
        ]
    return []
