"""The intake client: a write sent again with the same Idempotency-Key, refusals as Problem, the correlation
id sent and kept, and the asyncio client doing the same."""

import httpx
import pytest
from kipp_client import AsyncIntakeClient, IntakeClient, Problem


def test_a_write_that_fails_is_sent_again_with_the_same_key() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Idempotency-Key"])
        if len(seen) == 1:
            raise httpx.ConnectError("connection reset", request=request)
        if len(seen) == 2:
            return httpx.Response(503, json={"title": "Service unavailable"})
        return httpx.Response(
            202, json={"proposal_id": "p-1", "status": "submitted"}, headers={"Location": "/x"}
        )

    with IntakeClient("http://intake", "kipp_k", transport=httpx.MockTransport(answer)) as intake:
        intake._retries = 3
        accepted = intake.submit({"title": "t"})
    assert (accepted.proposal_id, accepted.location) == ("p-1", "/x")
    assert len(seen) == 3
    assert len(set(seen)) == 1  # one key for every attempt: the service acts once


def test_a_refusal_is_a_problem_naming_the_field() -> None:
    refusal = {
        "title": "Proposal breaks the round's rules",
        "detail": "sections.summary: too long",
        "errors": [{"field": "sections.summary", "rule": "max_words", "message": "too long"}],
    }
    transport = httpx.MockTransport(lambda request: httpx.Response(422, json=refusal))
    with (
        IntakeClient("http://intake", "kipp_k", transport=transport) as intake,
        pytest.raises(Problem) as raised,
    ):
        intake.submit({"title": "t"})
    assert raised.value.status == 422
    assert raised.value.errors[0]["rule"] == "max_words"


def test_a_refusal_is_not_retried() -> None:
    calls = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(409, json={"title": "Move not allowed", "current_status": "verified"})

    client = IntakeClient("http://intake", "kipp_k", transport=httpx.MockTransport(answer))
    with client as intake, pytest.raises(Problem, match="Move not allowed"):
        intake.revise("p-1", {})
    assert len(calls) == 1


def accepting(seen: list[httpx.Request]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        echoed = {"X-Correlation-ID": request.headers.get("X-Correlation-ID", "made-by-intake")}
        return httpx.Response(202, json={"proposal_id": "p-1", "status": "submitted"}, headers=echoed)

    return httpx.MockTransport(answer)


def test_a_correlation_id_given_to_the_client_or_to_one_call_is_sent_and_intakes_is_kept() -> None:
    seen: list[httpx.Request] = []
    with IntakeClient(
        "http://intake", "kipp_k", correlation_id="portal-7", transport=accepting(seen)
    ) as intake:
        first = intake.submit({"title": "t"})
        second = intake.withdraw("p-1", "digabung", correlation_id="trace-9")
    assert [r.headers["X-Correlation-ID"] for r in seen] == ["portal-7", "trace-9"]
    assert (first.correlation_id, second.correlation_id) == ("portal-7", "trace-9")
    assert first.http_status == 202

    with IntakeClient("http://intake", "kipp_k", transport=accepting(seen)) as intake:
        made = intake.submit({"title": "t"})
    assert "X-Correlation-ID" not in seen[-1].headers
    assert made.correlation_id == "made-by-intake"  # the one intake made, to follow in its logs


async def test_the_async_client_sends_a_write_again_with_the_same_key_and_the_same_correlation_id() -> None:
    seen: list[httpx.Request] = []

    async def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            raise httpx.ConnectError("connection reset", request=request)
        if len(seen) == 2:
            return httpx.Response(502, json={"title": "Bad gateway"})
        return httpx.Response(
            202, json={"proposal_id": "p-1", "status": "submitted"}, headers={"Location": "/x"}
        )

    async with AsyncIntakeClient("http://intake", "kipp_k", transport=httpx.MockTransport(answer)) as intake:
        accepted = await intake.revise("p-1", {"title": "t"}, correlation_id="trace-3")
    assert (accepted.proposal_id, accepted.location) == ("p-1", "/x")
    assert len({r.headers["Idempotency-Key"] for r in seen}) == 1
    assert {r.headers["X-Correlation-ID"] for r in seen} == {"trace-3"}
    assert [(r.method, r.url.path) for r in seen] == [("PUT", "/v1/proposals/p-1")] * 3


async def test_the_async_client_follows_the_cursor_and_raises_a_refusal() -> None:
    def view(number: int) -> dict[str, object]:
        return {
            "proposal_id": f"p-{number}",
            "status": "submitted",
            "submitted_at": "t",
            "updated_at": "t",
            "proposal": {},
        }

    async def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/missing"):
            return httpx.Response(404, json={"title": "Not found"})
        if request.url.params.get("cursor") == "next":
            return httpx.Response(200, json={"items": [view(2)], "next_cursor": None})
        assert request.url.params["status"] == "submitted"
        return httpx.Response(200, json={"items": [view(1)], "next_cursor": "next"})

    async with AsyncIntakeClient("http://intake", "kipp_k", transport=httpx.MockTransport(answer)) as intake:
        listed = await intake.list(status="submitted", limit=1)
        with pytest.raises(Problem) as missing:
            await intake.get("missing")
    assert [p.proposal_id for p in listed] == ["p-1", "p-2"]
    assert missing.value.status == 404


def test_an_answer_that_is_not_json_is_a_problem_after_the_retries() -> None:
    calls = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(500, text="Internal Server Error", headers={"content-type": "text/plain"})

    client = IntakeClient("http://intake", "kipp_k", retries=1, transport=httpx.MockTransport(answer))
    with client as intake, pytest.raises(Problem) as raised:
        intake.submit({"title": "t"})
    assert (raised.value.status, raised.value.detail) == (500, "Internal Server Error")
    assert raised.value.content_type == "text/plain"
    assert len(calls) == 2
