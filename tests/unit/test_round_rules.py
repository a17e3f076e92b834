"""Each rule of the 2023 round, refused with the field named; the demo proposals pass."""

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from shared.proposal import ProposalBody
from shared.rounds import shipped_rounds
from shared.rules import Violation, check_proposal, check_revision, count_words, years_before
from shared.times import day_in_wib
from shared.validation import field_path
from tests.fixtures import a_proposal, demo_proposals

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "submission.json"


# A day the shipped 2023 round was open (it took proposals from 2023-01-01 to 2023-05-06).
OPEN_DAY = date(2023, 4, 10)


def violations(data: dict[str, Any], day: date = OPEN_DAY) -> list[Violation]:
    return check_proposal(ProposalBody.model_validate(data), shipped_rounds(), day)


def rules_broken(data: dict[str, Any], day: date = OPEN_DAY) -> set[tuple[str, str]]:
    return {(v.field, v.rule) for v in violations(data, day)}


def with_section(name: str, text: str | None) -> dict[str, Any]:
    sections = dict(a_proposal()["sections"])
    if text is None:
        del sections[name]
    else:
        sections[name] = text
    return a_proposal(sections=sections)


@pytest.mark.parametrize("proposal", demo_proposals(), ids=lambda p: p["agency"]["name"][:30])
def test_every_demo_proposal_follows_the_2023_rules(proposal: dict[str, Any]) -> None:
    assert violations(proposal) == []


def test_refuses_an_unknown_round() -> None:
    assert violations(a_proposal(round=2031)) == [
        Violation("round", "known_round", "round 2031 is not open; known rounds: 2023")
    ]


def test_refuses_an_unknown_group_and_category() -> None:
    assert rules_broken(a_proposal(group="istimewa", category="Olahraga")) == {
        ("group", "known_group"),
        ("category", "known_category"),
    }


def test_a_replication_group_needs_what_it_replicates() -> None:
    assert rules_broken(a_proposal(group="khusus")) == {("replicates", "required_for_replication")}
    replicating = a_proposal(
        group="khusus", replicates={"title": "Lapor Cepat", "region": "Kota Pangkalpinang"}
    )
    assert violations(replicating) == []


def test_refuses_a_section_over_its_word_limit() -> None:
    assert rules_broken(with_section("summary", "kata " * 201)) == {("sections.summary", "max_words")}
    assert violations(with_section("summary", "kata " * 200)) == []
    assert rules_broken(with_section("significance", "kata " * 601)) == {
        ("sections.significance", "max_words")
    }


def test_refuses_a_missing_or_empty_section() -> None:
    assert rules_broken(with_section("novelty", None)) == {("sections.novelty", "required_section")}
    assert rules_broken(with_section("novelty", "   ")) == {("sections.novelty", "required_section")}


def test_refuses_a_section_the_round_does_not_have() -> None:
    assert rules_broken(with_section("budget", "satu dua")) == {("sections.budget", "known_section")}


def test_needs_at_least_one_sdg_and_only_real_ones() -> None:
    assert rules_broken(a_proposal(sdgs=[])) == {("sdgs", "min_items")}
    assert rules_broken(a_proposal(sdgs=[3, 18, 0])) == {("sdgs[1]", "sdg_range"), ("sdgs[2]", "sdg_range")}
    assert rules_broken(a_proposal(sdgs=[3, 3])) == {("sdgs", "unique_items")}
    assert violations(a_proposal(sdgs=[1, 17])) == []


def test_needs_every_required_document() -> None:
    documents = [d for d in a_proposal()["documents"] if d["kind"] != "initiator_decree"]
    broken = violations(a_proposal(documents=documents))
    assert [(v.field, v.rule) for v in broken] == [("documents", "required_document")]
    assert "initiator_decree" in broken[0].message


def test_refuses_an_unknown_document_kind() -> None:
    documents = [*a_proposal()["documents"], {"kind": "photo", "url": "https://example.org/a.jpg"}]
    assert rules_broken(a_proposal(documents=documents)) == {("documents[5].kind", "known_document")}


def test_the_innovation_must_have_run_a_year_before_the_round_closes() -> None:
    assert violations(a_proposal(implemented_since="2022-05-06")) == []
    assert rules_broken(a_proposal(implemented_since="2022-05-07")) == {
        ("implemented_since", "min_years_in_operation")
    }


def test_years_before_handles_the_leap_day() -> None:
    assert years_before(date(2024, 2, 29), 1) == date(2023, 2, 28)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"innovator": {"name": "Tim", "email": "not-an-address"}}, "innovator.email"),
        ({"agency": {"name": "Dinas", "kind": "ministry"}}, "agency.kind"),
        ({"implemented_since": "last year"}, "implemented_since"),
        ({"documents": [{"kind": "initiator_decree", "url": "not a url"}]}, "documents.0.url"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_the_shape_of_a_proposal_is_checked_before_its_rules(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        ProposalBody.model_validate(a_proposal(**change))
    assert field in {".".join(str(part) for part in error["loc"]) for error in refused.value.errors()}


def test_a_revision_stays_in_its_round() -> None:
    assert check_revision(2023, ProposalBody.model_validate(a_proposal())) == []
    [moved] = check_revision(2022, ProposalBody.model_validate(a_proposal()))
    assert (moved.field, moved.rule) == ("round", "same_round")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"round": "2023"}, "round"),
        ({"round": 2023.0}, "round"),
        ({"sdgs": ["16"]}, "sdgs.0"),
        ({"title": "Lapor\x00Cepat"}, "title"),
        ({"sections": {**a_proposal()["sections"], "summary": "nul \x00"}}, "sections.summary"),
    ],
)
def test_what_passes_is_exactly_what_every_reader_expects(change: dict[str, Any], field: str) -> None:
    # The proposal is stored and published as posted, so a number must be a number and text storable.
    with pytest.raises(ValidationError) as refused:
        ProposalBody.model_validate(a_proposal(**change))
    assert field in {".".join(str(part) for part in error["loc"]) for error in refused.value.errors()}


@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("documents[0].url", lambda p: {"documents": [{**p["documents"][0], "url": "https://x.id/a\x00b"}]}),
        ("video_url", lambda p: {"video_url": "https://x.id/\x00"}),
        (
            "replicates.url",
            lambda p: {"replicates": {"title": "T", "region": "R", "url": "https://x.id/\x00"}},
        ),
        ("innovator.phone", lambda p: {"innovator": {**p["innovator"], "phone": "0812\x00"}}),
        ("group", lambda p: {"group": "umum\x00"}),
        ("sections.summary\x00.[key]", lambda p: {"sections": {**p["sections"], "summary\x00": "x"}}),
    ],
)
def test_nul_is_refused_in_every_text_that_is_stored_urls_included(field: str, change: Any) -> None:
    # A URL parser percent-encodes a NUL, but the proposal is stored as posted, where PostgreSQL refuses it.
    with pytest.raises(ValidationError) as refused:
        ProposalBody.model_validate(a_proposal(**change(a_proposal())))
    assert [field_path(tuple(error["loc"])) for error in refused.value.errors()] == [field]


def test_words_are_counted_as_a_reader_counts_them() -> None:
    assert count_words("satu dua\ttiga\nempat") == 4
    # Invisible format characters (Unicode category Cf) separate words as whitespace does.
    for invisible in ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u180e", "\u200e"):
        assert count_words(invisible.join(["kata"] * 5)) == 5, hex(ord(invisible))
    assert count_words("satu\u00a0dua\u3000tiga\u2003empat") == 4  # any whitespace
    # A lone dash, bullet or run of dots is not a word; words with punctuation are.
    assert count_words("Lapor — cepat • ... (2023) e-mail, ___ !!") == 4
    assert count_words("") == count_words("\u200b \u200b") == count_words(" — • ") == 0


def test_zero_width_padding_does_not_hide_words_from_the_limit() -> None:
    assert rules_broken(with_section("summary", "\u200b".join(["kata"] * 201))) == {
        ("sections.summary", "max_words")
    }
    assert violations(with_section("summary", "\u200b".join(["kata"] * 200))) == []
    # 5,000 words joined by zero-width spaces: over the character cap, refused on its length.
    assert rules_broken(with_section("summary", "\u200b".join(["kata"] * 5_000))) == {
        ("sections.summary", "max_chars")
    }


def test_a_section_over_its_character_cap_is_refused_whatever_it_holds() -> None:
    # The cap is the word limit times the round's chars_per_word (15 in 2023): 200 x 15 for the summary.
    [endless] = violations(with_section("summary", "a" * 10_000))
    assert (endless.field, endless.rule) == ("sections.summary", "max_chars")
    assert "10000 characters" in endless.message
    assert "the cap is 3000" in endless.message
    assert violations(with_section("summary", "kata" + " " * 2_997)) == []  # stripped when parsed
    assert rules_broken(with_section("summary", "kata" + "." * 2_997)) == {("sections.summary", "max_chars")}
    assert violations(with_section("summary", "a" * 3_000)) == []
    assert rules_broken(with_section("novelty", "\u200b" * 3_001)) == {("sections.novelty", "max_chars")}
    assert rules_broken(with_section("novelty", "\u200b" * 3_000)) == {
        ("sections.novelty", "required_section")
    }


def test_the_example_submission_follows_the_2023_rules() -> None:
    assert violations(json.loads(EXAMPLE.read_text(encoding="utf-8"))) == []


def test_a_round_takes_proposals_from_its_opening_to_its_closing_day() -> None:
    assert violations(a_proposal(), date(2023, 1, 1)) == []
    assert violations(a_proposal(), date(2023, 5, 6)) == []
    for day in (date(2022, 12, 31), date(2023, 5, 7), date(2026, 11, 30)):
        [closed] = violations(a_proposal(), day)
        assert (closed.field, closed.rule) == ("round", "round_closed")
        assert "from 2023-01-01 to 2023-05-06" in closed.message
        assert str(day) in closed.message
    # A closed round still says what else is wrong.
    assert rules_broken(a_proposal(sdgs=[]), date(2023, 5, 7)) == {
        ("round", "round_closed"),
        ("sdgs", "min_items"),
    }


def test_closing_days_are_whole_days_in_wib() -> None:
    assert day_in_wib(datetime.fromisoformat("2023-05-06T23:00:00+07:00")) == date(2023, 5, 6)
    assert day_in_wib(datetime.fromisoformat("2023-05-06T16:59:59Z")) == date(2023, 5, 6)
    assert day_in_wib(datetime.fromisoformat("2023-05-06T17:00:00Z")) == date(2023, 5, 7)
    assert day_in_wib(datetime.fromisoformat("2023-05-06T23:30:00+09:00")) == date(2023, 5, 6)
    with pytest.raises(ValueError, match="offset"):
        day_in_wib(datetime(2023, 5, 6, 12))
    with pytest.raises(ValueError, match="out of range"):
        day_in_wib(datetime.fromisoformat("9999-12-31T23:00:00Z"))
