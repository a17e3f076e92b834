"""Test data: the demo proposals of Kabupaten Bangka Barat, shipped beside the round rules."""

import copy
import json
from pathlib import Path
from typing import Any
from uuid import UUID

from shared.access import Actor, Role

# Actors as intake and review record them (a holder's id, name and role).
SUBMITTER = Actor(
    id=UUID("5b0c53f0-6a55-4f0e-9d47-1f5a3e9b2c01"), name="Portal Diskominfo", role=Role.SUBMITTER
)
REVIEWER_ACTOR = {"id": "8e2f1c7a-3b4d-4c5e-9f60-7a8b9c0d1e2f", "name": "Rina", "role": "reviewer"}

DEMO_FILE = Path(__file__).resolve().parent.parent / "shared" / "demo" / "demo-bangka-barat-2023.json"


def demo_proposals() -> list[dict[str, Any]]:
    proposals: list[dict[str, Any]] = json.loads(DEMO_FILE.read_text(encoding="utf-8"))["proposals"]
    return proposals


def a_proposal(**changes: Any) -> dict[str, Any]:
    """A valid 2023 proposal (the Kominfo one), with top-level fields replaced by `changes`."""
    proposal = copy.deepcopy(demo_proposals()[0])
    proposal.update(changes)
    return proposal
