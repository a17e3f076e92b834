"""Test data: the demo proposals of Kabupaten Bangka Barat, shipped beside the round rules."""

import copy
import json
from pathlib import Path
from typing import Any

DEMO_FILE = Path(__file__).resolve().parent.parent / "shared" / "demo" / "demo-bangka-barat-2023.json"


def demo_proposals() -> list[dict[str, Any]]:
    proposals: list[dict[str, Any]] = json.loads(DEMO_FILE.read_text(encoding="utf-8"))["proposals"]
    return proposals


def a_proposal(**changes: Any) -> dict[str, Any]:
    """A valid 2023 proposal (the Kominfo one), with top-level fields replaced by `changes`."""
    proposal = copy.deepcopy(demo_proposals()[0])
    proposal.update(changes)
    return proposal
