"""Test data: the demo proposals of Kabupaten Bangka Barat, shipped beside the round rules, and the round
they are submitted to."""

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

from shared.access import Actor, Role
from shared.contract import Envelope
from shared.personal_data.fields import DataKey, encrypt_proposal
from shared.rounds import RoundBook, RoundRules, shipped_rounds

# Actors as intake and review record them (a holder's id, name and role).
SUBMITTER = Actor(
    id=UUID("5b0c53f0-6a55-4f0e-9d47-1f5a3e9b2c01"), name="Portal Diskominfo", role=Role.SUBMITTER
)
REVIEWER_ACTOR = {"id": "8e2f1c7a-3b4d-4c5e-9f60-7a8b9c0d1e2f", "name": "Rina", "role": "reviewer"}


DEMO_FILE = Path(__file__).resolve().parent.parent / "shared" / "demo" / "demo-bangka-barat-2023.json"

# KIPP 2023 closed on 2023-05-06, and the tests submit its proposals today: they run it reopened until
# this day, as an operator would (a kipp-2023.json in KIPP_ROUNDS_DIR; see tests/conftest.py). The age rule
# counts back from the closing day, so the demo innovations (started 2020-2021) still qualify.
REOPENED_UNTIL = date(2099, 12, 31)


def demo_proposals() -> list[dict[str, Any]]:
    proposals: list[dict[str, Any]] = json.loads(DEMO_FILE.read_text(encoding="utf-8"))["proposals"]
    return proposals


def a_proposal(**changes: Any) -> dict[str, Any]:
    """A valid 2023 proposal (the Kominfo one), with top-level fields replaced by `changes`."""
    proposal = copy.deepcopy(demo_proposals()[0])
    proposal.update(changes)
    return proposal


def reopened_2023() -> RoundRules:
    shipped = shipped_rounds().get(2023)
    assert shipped is not None
    about = f"KIPP 2023 reopened until {REOPENED_UNTIL} for the tests, which submit its proposals today."
    return RoundRules.model_validate(
        {**shipped.model_dump(), "closes_on": REOPENED_UNTIL, "about": f"{about} {shipped.about}"}
    )


def reopened_rounds() -> RoundBook:
    """The rounds the tests' services run with: the shipped ones, with 2023 reopened."""
    return RoundBook({**shipped_rounds().rounds, 2023: reopened_2023()})


# A person whose key only the tests hold (no database has it): review shows their fields as erased.
TESTS_OWN_PERSON = DataKey(UUID("0c1f9a52-7d3e-4b6a-8f21-5e4d3c2b1a09"), bytes(range(32)))


def encrypted(envelope: Envelope, key: DataKey = TESTS_OWN_PERSON) -> Envelope:
    """The envelope as intake publishes it: a proposal's innovator fields encrypted for its event."""
    if not isinstance(envelope.data.get("innovator"), dict):
        return envelope
    return envelope.model_copy(update={"data": encrypt_proposal(envelope.data, envelope.event_id, key)})
