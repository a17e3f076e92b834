"""The rebuild's fold stage: a batch folded in slices, the other stages running between them."""

import asyncio
import json
import uuid
from typing import Any

import pytest

from services.review import rebuild
from services.review.projection import fold_batch
from tests.fixtures import demo_proposals


def stored_events(proposals: int) -> list[dict[str, Any]]:
    """What the projection reads of each proposal's submission and verification, as the rows it gets."""
    rows: list[dict[str, Any]] = []
    for number in range(proposals):
        stream, text = uuid.uuid4(), demo_proposals()[number % 5]
        summary = {
            "round": text["round"],
            "agency": {"name": text["agency"]["name"]},
            "region": {"regency": text["region"]["regency"]},
        }
        verified = {"at": "2023-03-02T00:00:00Z", "checklist": {"documents": {"passed": True, "note": ""}}}
        for version, (kind, schema, data) in enumerate(
            [
                ("ProposalSubmitted", 1, {"at": "2023-03-01T00:00:00Z", "proposal": summary}),
                ("ProposalVerified", 2, {**verified, "notes": ""}),
            ],
            start=1,
        ):
            rows.append(
                {
                    "position": len(rows) + 1,
                    "stream_id": stream,
                    "version": version,
                    "type": kind,
                    "schema_version": schema,
                    "data": json.dumps(data),
                    "carries_text": kind == "ProposalSubmitted",
                }
            )
    return rows


async def test_a_batch_is_folded_in_slices_and_the_other_stages_run_between_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(rebuild, "FOLD_SLICE", 3)
    events = stored_events(6)  # 12 events: four slices, a proposal's two events in two slices twice
    turns, folding = 0, True

    async def another_stage() -> None:
        nonlocal turns
        while folding:
            turns += 1
            await asyncio.sleep(0)

    other = asyncio.create_task(another_stage())
    await asyncio.sleep(0)
    before = turns
    folded = await rebuild.fold_in_slices({}, events)  # type: ignore[arg-type]
    during = turns - before
    folding = False
    await other

    assert during >= 3  # it ran between the slices (a fold in one go leaves it no turn)
    whole = fold_batch({}, events)  # type: ignore[arg-type]
    assert (folded.first, folded.last) == (whole.first, whole.last) == (1, 12)
    assert [(pid, row.state, row.version, row.last_position, row.text_at) for pid, row in folded.rows] == [
        (pid, row.state, row.version, row.last_position, row.text_at) for pid, row in whole.rows
    ]
    assert len(folded.rows) == 6
    assert all(row.version == 2 for _, row in folded.rows)
