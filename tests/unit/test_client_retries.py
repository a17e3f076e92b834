"""The intake client retries a write with the same Idempotency-Key, and turns refusals into Problem."""

import httpx
import pytest
from kipp_client import IntakeClient, Problem


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
