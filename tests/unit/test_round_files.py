"""KIPP_ROUNDS_DIR: round files of the operator's add to or replace the shipped ones; a bad one is named."""

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from services.intake.app import create_app as create_intake
from services.intake.settings import IntakeSettings
from services.review.app import create_app as create_review
from services.review.settings import ReviewSettings
from shared.proposal import ProposalBody
from shared.rounds import RoundFileError, load_rounds, shipped_rounds
from shared.rules import check_proposal
from tests.fixtures import a_proposal, demo_proposals

ROOT = Path(__file__).resolve().parents[2]


def round_file(**changes: Any) -> dict[str, Any]:
    shipped = shipped_rounds().get(2023)
    assert shipped is not None
    return {**shipped.model_dump(mode="json"), **changes}


def write(directory: Path, name: str, content: dict[str, Any] | str) -> Path:
    path = directory / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def test_without_a_directory_the_shipped_rounds_are_used() -> None:
    assert load_rounds(None) is shipped_rounds()
    assert load_rounds("") is shipped_rounds()
    shipped = shipped_rounds().get(2023)
    assert shipped is not None
    assert (shipped.opens_on, shipped.closes_on) == (date(2023, 1, 1), date(2023, 5, 6))


def test_a_file_replaces_the_shipped_round_of_its_year_and_another_adds_a_round(tmp_path: Path) -> None:
    write(tmp_path, "kipp-2023.json", round_file(closes_on="2023-06-30"))
    write(tmp_path, "kipp-2024.json", round_file(round=2024, opens_on="2024-01-01", closes_on="2024-05-31"))
    write(tmp_path, "notes.txt", "not a round file, not read")
    book = load_rounds(str(tmp_path))
    assert sorted(book.rounds) == [2023, 2024]
    extended = book.get(2023)
    assert extended is not None
    assert extended.closes_on == date(2023, 6, 30)
    assert check_proposal(ProposalBody.model_validate(a_proposal()), book, date(2023, 6, 30)) == []
    shipped = shipped_rounds().get(2023)
    assert shipped is not None
    assert shipped.closes_on == date(2023, 5, 6)  # the shipped book itself is unchanged


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("kipp-2023.json", "{not json", "not a round file"),
        ("kipp-2023.json", round_file(closes_on="someday"), "closes_on"),
        ("kipp-2023.json", round_file(opens_on=None), "opens_on"),
        ("kipp-2023.json", round_file(opens_on="2023-06-01"), "opens_on .* is after closes_on"),
        ("kipp-2023.json", round_file(chars_per_word=0), "chars_per_word"),
        ("kipp-2023.json", round_file(sections={"summary": -1}), "sections.summary"),
        ("kipp-2023.json", round_file(closing="2023-06-01"), "closing"),
        ("kipp-2024.json", round_file(), "named kipp-2023.json"),
        ("kipp-next.json", round_file(), "named kipp-2023.json"),
    ],
)
def test_a_malformed_round_file_is_refused_naming_it(
    tmp_path: Path, name: str, content: dict[str, Any] | str, reason: str
) -> None:
    path = write(tmp_path, name, content)
    with pytest.raises(RoundFileError, match=reason) as refused:
        load_rounds(str(tmp_path))
    assert str(refused.value).startswith(f"{path}: ")


def test_a_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RoundFileError, match="not a directory"):
        load_rounds(str(tmp_path / "nowhere"))


def test_both_services_refuse_to_start_with_a_malformed_round_file(tmp_path: Path) -> None:
    path = write(tmp_path, "kipp-2023.json", round_file(closes_on="2023-13-01"))
    with pytest.raises(RoundFileError, match=str(path)):
        create_intake(IntakeSettings(rounds_dir=str(tmp_path)))
    with pytest.raises(RoundFileError, match=str(path)):
        create_review(ReviewSettings(rounds_dir=str(tmp_path)))


def test_the_round_file_make_run_uses_reopens_2023_for_the_demo() -> None:
    book = load_rounds(str(ROOT / "examples" / "rounds"))
    reopened, shipped = book.get(2023), shipped_rounds().get(2023)
    assert reopened is not None
    assert shipped is not None
    assert "reopened" in reopened.about
    # Only the closing day differs from the shipped round.
    assert reopened.model_dump(exclude={"about", "closes_on"}) == shipped.model_dump(
        exclude={"about", "closes_on"}
    )
    today = date.today()
    example = json.loads((ROOT / "examples" / "submission.json").read_text(encoding="utf-8"))
    for proposal in [*demo_proposals(), example]:
        assert check_proposal(ProposalBody.model_validate(proposal), book, today) == []
    assert "KIPP_ROUNDS_DIR ?= examples/rounds" in (ROOT / "Makefile").read_text()
