"""The client submitting systems use, against the running services."""

import asyncio

import httpx
import pytest
from kipp_client import IntakeClient, Problem

from tests.e2e.conftest import System
from tests.e2e.test_review_lifecycle import decide, status_in_review
from tests.fixtures import a_proposal
from tests.keys import Keys


async def test_a_submitting_system_submits_follows_revises_and_withdraws(
    system: System, keys: Keys, review: httpx.AsyncClient
) -> None:
    intake = IntakeClient(system.intake.url, keys.submitter)
    try:
        accepted = await asyncio.to_thread(intake.submit, a_proposal(), idempotency_key="portal-1")
        again = await asyncio.to_thread(intake.submit, a_proposal(), idempotency_key="portal-1")
        assert again.proposal_id == accepted.proposal_id  # the same key answers the same proposal
        assert accepted.location == f"/v1/proposals/{accepted.proposal_id}"

        with pytest.raises(Problem) as refused:
            await asyncio.to_thread(intake.submit, a_proposal(sdgs=[]))
        assert (refused.value.status, refused.value.errors[0]["field"]) == (422, "sdgs")

        with pytest.raises(Problem) as not_now:
            await asyncio.to_thread(intake.revise, accepted.proposal_id, a_proposal())
        assert not_now.value.status == 409
        assert not_now.value.body["current_status"] == "submitted"

        await status_in_review(review, accepted.proposal_id, "submitted")
        await decide(review, accepted.proposal_id, "revision-request", {"reasons": ["lengkapi"]})
        for _ in range(200):
            if (await asyncio.to_thread(intake.status, accepted.proposal_id)) == "revision_requested":
                break
            await asyncio.sleep(0.05)
        view = await asyncio.to_thread(intake.get, accepted.proposal_id)
        assert view.status == "revision_requested"
        assert view.status_detail is not None
        assert view.status_detail["reasons"] == ["lengkapi"]

        revised = await asyncio.to_thread(
            intake.revise, accepted.proposal_id, a_proposal(title="Versi kedua")
        )
        assert revised.status == "submitted"
        withdrawn = await asyncio.to_thread(intake.withdraw, accepted.proposal_id, "digabung")
        assert withdrawn.status == "withdrawn"
        listed = await asyncio.to_thread(intake.list)
        assert [p.proposal_id for p in listed] == [accepted.proposal_id]
        assert listed[0].proposal["title"] == "Versi kedua"
    finally:
        intake.close()
