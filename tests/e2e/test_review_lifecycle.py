"""A whole KIPP round through both services and the broker: the revision loop, every decision,
withdrawal, concurrency between reviewers, and what intake's submitters see."""

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest
from kipp_client import AsyncIntakeClient, Problem, ProposalView

from tests.apps import eventually
from tests.e2e.conftest import System
from tests.fixtures import a_proposal, demo_proposals
from tests.keys import Keys, bearer


async def submit(intake: AsyncIntakeClient, body: dict[str, Any] | None = None) -> str:
    accepted = await intake.submit(body or a_proposal())
    assert accepted.http_status == 202, accepted.body
    return accepted.proposal_id


async def status_in_review(review: httpx.AsyncClient, proposal_id: str, status: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        answer = await review.get(f"/v1/proposals/{proposal_id}")
        return answer.json() if answer.status_code == 200 and answer.json()["status"] == status else None

    return await eventually(probe, within=10)


async def status_in_intake(intake: AsyncIntakeClient, proposal_id: str, status: str) -> ProposalView:
    async def probe() -> ProposalView | None:
        view = await intake.get(proposal_id)
        return view if view.status == status else None

    return await eventually(probe, within=10)


async def decide(
    review: httpx.AsyncClient, proposal_id: str, decision: str, body: dict[str, Any]
) -> dict[str, Any]:
    answer = await review.post(f"/v1/proposals/{proposal_id}/{decision}", json=body)
    assert answer.status_code == 200, answer.text
    view: dict[str, Any] = answer.json()
    return view


async def test_a_full_round_with_a_revision_loop(
    intake: AsyncIntakeClient, review: httpx.AsyncClient, keys: Keys
) -> None:
    proposal_id = await submit(intake)
    await status_in_review(review, proposal_id, "submitted")

    reasons = ["ringkasan terlalu umum", "lampirkan SK inisiator"]
    asked = await decide(
        review, proposal_id, "revision-request", {"reasons": reasons, "notes": "lihat catatan"}
    )
    assert asked["status"] == "revision_requested"
    seen = await status_in_intake(intake, proposal_id, "revision_requested")
    assert seen.status_detail is not None
    assert seen.status_detail["reasons"] == reasons

    revised_text = a_proposal(title="Lapor Cepat Babar (revisi)")
    revised = await intake.revise(proposal_id, revised_text)
    assert revised.http_status == 202, revised.body
    assert await intake.status(proposal_id) == "submitted"
    with pytest.raises(Problem) as again:
        await intake.revise(proposal_id, revised_text)
    assert again.value.status == 409
    assert again.value.body["current_status"] == "submitted"

    back = await status_in_review(review, proposal_id, "submitted")
    assert (back["title"], back["revisions"], back["version"]) == ("Lapor Cepat Babar (revisi)", 1, 3)

    await decide(review, proposal_id, "verification", {"outcome": "passed", "checklist": {"SK": True}})
    await decide(review, proposal_id, "validation", {"outcome": "passed", "notes": "substansi baik"})
    registered = await decide(
        review, proposal_id, "national-registration", {"sinovik_reference": "SINOVIK-2023-0042"}
    )
    assert registered["sinovik_reference"] == "SINOVIK-2023-0042"
    for stage in ("top99", "top45", "winner"):
        selected = await decide(review, proposal_id, "selection", {"stage": stage, "outcome": "selected"})
        assert selected["status"] == stage
    assert (await status_in_intake(intake, proposal_id, "winner")).review_version == 9

    history = (await review.get(f"/v1/proposals/{proposal_id}/history")).json()["events"]
    assert [e["type"] for e in history] == [
        "ProposalSubmitted",
        "RevisionRequested",
        "ProposalRevised",
        "ProposalVerified",
        "ProposalValidated",
        "ProposalRegistered",
        "SelectionRecorded",
        "SelectionRecorded",
        "SelectionRecorded",
    ]
    assert history[0]["data"]["proposal"]["title"] == a_proposal()["title"]
    assert history[2]["data"]["proposal"]["title"] == "Lapor Cepat Babar (revisi)"
    # The actor is the key's holder, never a field of a body.
    assert history[0]["metadata"]["actor"]["name"] == "Portal Diskominfo"
    assert history[1]["metadata"]["actor"] == {
        "id": keys.reviewer_holder_id,
        "key_id": keys.reviewer_id,
        "name": "Rina (Bagian Organisasi)",
        "role": "reviewer",
    }

    final = await review.post(
        f"/v1/proposals/{proposal_id}/selection", json={"stage": "winner", "outcome": "not_selected"}
    )
    assert final.status_code == 409
    assert final.json()["allowed_moves"] == []


async def test_a_submitter_withdraws_and_review_records_it(
    intake: AsyncIntakeClient, review: httpx.AsyncClient
) -> None:
    proposal_id = await submit(intake)
    await status_in_review(review, proposal_id, "submitted")
    withdrawn = await intake.withdraw(proposal_id, "digabung dengan inovasi lain")
    assert withdrawn.http_status == 202
    view = await status_in_review(review, proposal_id, "withdrawn")
    assert view["withdrawal_reason"] == "digabung dengan inovasi lain"
    with pytest.raises(Problem) as twice:
        await intake.withdraw(proposal_id, "lagi")
    assert twice.value.status == 409
    assert twice.value.body["current_status"] == "withdrawn"
    verify = await review.post(f"/v1/proposals/{proposal_id}/verification", json={"outcome": "passed"})
    assert verify.status_code == 409


async def test_a_revision_is_refused_unless_one_was_requested(
    intake: AsyncIntakeClient, review: httpx.AsyncClient
) -> None:
    proposal_id = await submit(intake)
    with pytest.raises(Problem) as refused:
        await intake.revise(proposal_id, a_proposal())
    assert refused.value.status == 409
    assert refused.value.body["allowed_moves"] == [
        "verified",
        "verification_failed",
        "revision_requested",
        "withdrawn",
    ]


async def test_a_revision_is_checked_like_a_new_submission(
    intake: AsyncIntakeClient, review: httpx.AsyncClient
) -> None:
    proposal_id = await submit(intake)
    await status_in_review(review, proposal_id, "submitted")
    await decide(review, proposal_id, "revision-request", {"reasons": ["x"]})
    await status_in_intake(intake, proposal_id, "revision_requested")
    with pytest.raises(Problem) as refused:
        await intake.revise(proposal_id, a_proposal(sdgs=[]))
    assert refused.value.status == 422
    assert refused.value.errors[0]["field"] == "sdgs"

    assert await intake.status(proposal_id) == "revision_requested"


async def test_two_reviewers_never_overwrite_each_other(
    intake: AsyncIntakeClient, review: httpx.AsyncClient, system: System, keys: Keys
) -> None:
    proposal_id = await submit(intake)
    await status_in_review(review, proposal_id, "submitted")
    etag = (await review.get(f"/v1/proposals/{proposal_id}")).headers["etag"]

    async with httpx.AsyncClient(base_url=system.review.url, headers=bearer(keys.other_reviewer)) as budi:
        first = await review.post(
            f"/v1/proposals/{proposal_id}/verification",
            json={"outcome": "passed"},
            headers={"If-Match": etag},
        )
        second = await budi.post(
            f"/v1/proposals/{proposal_id}/verification",
            json={"outcome": "failed"},
            headers={"If-Match": etag},
        )
    assert first.status_code == 200
    assert second.status_code == 412
    assert second.json()["current_version"] == 2


async def test_of_many_concurrent_decisions_exactly_one_wins(
    intake: AsyncIntakeClient, review: httpx.AsyncClient, database_url: str
) -> None:
    proposal_id = await submit(intake)
    await status_in_review(review, proposal_id, "submitted")
    decisions = [
        review.post(
            f"/v1/proposals/{proposal_id}/verification", json={"outcome": "passed" if i % 2 else "failed"}
        )
        for i in range(12)
    ]
    answers = await asyncio.gather(*decisions)
    codes = sorted(answer.status_code for answer in answers)
    assert codes.count(200) == 1, codes
    assert set(codes) <= {200, 409, 412}
    conn = await asyncpg.connect(database_url)
    try:
        assert (
            await conn.fetchval("SELECT count(*) FROM review.events WHERE stream_id = $1", proposal_id) == 2
        )
    finally:
        await conn.close()


async def test_a_submitter_lists_only_its_own_proposals_newest_first(
    intake: AsyncIntakeClient, review: httpx.AsyncClient, system: System, keys: Keys
) -> None:
    mine = [await submit(intake, p) for p in demo_proposals()[:3]]
    async with AsyncIntakeClient(system.intake.url, keys.other_submitter) as pdam:
        theirs = await submit(pdam, demo_proposals()[4])
        assert (await pdam.page()).items[0].proposal_id == theirs
        for someone_elses in (
            pdam.get(mine[0]),
            pdam.revise(mine[0], a_proposal()),
            pdam.withdraw(mine[0], "x"),
        ):
            with pytest.raises(Problem) as hidden:
                await someone_elses
            assert hidden.value.status == 404

    first = await intake.page(limit=2)
    second = await intake.page(limit=2, cursor=first.next_cursor)
    assert [p.proposal_id for p in first.items + second.items] == mine[::-1]
    assert second.next_cursor is None
    await status_in_review(review, mine[0], "submitted")
    await decide(review, mine[0], "verification", {"outcome": "passed"})
    await status_in_intake(intake, mine[0], "verified")
    verified = (await intake.page(status="verified")).items
    assert [p.proposal_id for p in verified] == [mine[0]]


async def test_stats_count_by_status_agency_and_round(
    intake: AsyncIntakeClient, review: httpx.AsyncClient
) -> None:
    ids = [await submit(intake, p) for p in demo_proposals()]
    for proposal_id in ids:
        await status_in_review(review, proposal_id, "submitted")
    await decide(review, ids[0], "verification", {"outcome": "passed"})
    stats = (await review.get("/v1/stats")).json()
    assert stats["total"] == 5
    assert stats["by_status"] == {"submitted": 4, "verified": 1}
    assert stats["by_round"] == {"2023": 5}
    assert (
        stats["by_agency"]["Dinas Pengendalian Penduduk dan Keluarga Berencana Kabupaten Bangka Barat"] == 2
    )
    assert sum(stats["by_agency"].values()) == 5


async def test_nothing_is_revised_after_a_withdrawal_and_odd_headers_are_refused_cleanly(
    intake: AsyncIntakeClient, review: httpx.AsyncClient
) -> None:
    proposal_id = await submit(intake)
    await status_in_review(review, proposal_id, "submitted")
    await decide(review, proposal_id, "revision-request", {"reasons": ["r"]})
    await status_in_intake(intake, proposal_id, "revision_requested")
    assert (await intake.withdraw(proposal_id, "x")).http_status == 202
    with pytest.raises(Problem) as late:
        await intake.revise(proposal_id, a_proposal())
    assert late.value.status == 409
    assert late.value.body["current_status"] == "withdrawn"
    odd = await review.post(
        f"/v1/proposals/{proposal_id}/verification",
        json={"outcome": "passed"},
        headers={b"If-Match": b'"\xb2"'},  # superscript two: isdigit(), not int()
    )
    assert odd.status_code == 400
    assert (await review.get("/v1/proposals", params={"round": 99999999999})).status_code == 422
    with pytest.raises(Problem) as out_of_range:  # a cursor the client was never given
        await intake.page(cursor="OTk5OTk5OTk5OTk5OTk5OTk5OTk5OQ==")
    assert out_of_range.value.status == 422
    nul = await review.post(
        f"/v1/proposals/{proposal_id}/verification", json={"outcome": "passed", "notes": "\x00"}
    )
    assert nul.status_code in (409, 422)  # withdrawn by now, or refused for its text: never a 500
