"""What the intake API's calls send and how their answers read, without any I/O: both clients
(`kipp_client.intake`) build their requests and read their answers here, so they cannot drift apart."""

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx


class Problem(Exception):
    """A problem+json answer: what was refused and why (`errors` name each field and rule)."""

    def __init__(self, status: int, body: dict[str, Any], content_type: str | None = None) -> None:
        self.status = status
        self.content_type = content_type  # application/problem+json, from the services
        self.title = str(body.get("title", ""))
        self.detail = str(body.get("detail", ""))
        self.errors: list[dict[str, str]] = list(body.get("errors") or [])
        self.body = body
        super().__init__(f"{status} {self.title}: {self.detail}")


@dataclass(frozen=True)
class Accepted:
    """What intake answered for a submission, revision or withdrawal (202)."""

    proposal_id: str
    status: str
    location: str | None
    body: dict[str, Any] = field(repr=False)
    http_status: int = 202
    correlation_id: str | None = None  # as intake took it: the one sent, or one it made


@dataclass(frozen=True)
class ProposalView:
    """A proposal as its submitter sees it: the latest text, and the status review last announced."""

    proposal_id: str
    status: str
    status_detail: dict[str, Any] | None
    review_version: int
    submitted_at: str
    updated_at: str
    proposal: dict[str, Any]

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> "ProposalView":
        return cls(
            proposal_id=body["proposal_id"],
            status=body["status"],
            status_detail=body.get("status_detail"),
            review_version=int(body.get("review_version", 0)),
            submitted_at=body["submitted_at"],
            updated_at=body["updated_at"],
            proposal=body["proposal"],
        )


@dataclass(frozen=True)
class Page:
    """One page of the key's holder's proposals, newest first; `next_cursor` asks for the next."""

    items: list[ProposalView]
    next_cursor: str | None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> "Page":
        items = [ProposalView.from_json(item) for item in body["items"]]
        return cls(items, body.get("next_cursor"))


@dataclass(frozen=True)
class Call:
    """One request, as both clients send it."""

    method: str
    path: str
    json: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


def write(method: str, path: str, body: dict[str, Any], key: str | None, correlation_id: str | None) -> Call:
    headers = {"Idempotency-Key": key or str(uuid.uuid4())}
    if correlation_id:
        headers["X-Correlation-ID"] = correlation_id
    return Call(method, path, json=body, headers=headers)


def submission(proposal: dict[str, Any], key: str | None, correlation_id: str | None) -> Call:
    return write("POST", "/v1/proposals", proposal, key, correlation_id)


def revision(proposal_id: str, proposal: dict[str, Any], key: str | None, correlation_id: str | None) -> Call:
    return write("PUT", f"/v1/proposals/{proposal_id}", proposal, key, correlation_id)


def withdrawal(proposal_id: str, reason: str, key: str | None, correlation_id: str | None) -> Call:
    return write("POST", f"/v1/proposals/{proposal_id}/withdrawal", {"reason": reason}, key, correlation_id)


def reading(proposal_id: str) -> Call:
    return Call("GET", f"/v1/proposals/{proposal_id}")


def listing(status: str | None, limit: int, cursor: str | None) -> Call:
    params: dict[str, Any] = {"limit": limit}
    if status:
        params["status"] = status
    if cursor:
        params["cursor"] = cursor
    return Call("GET", "/v1/proposals", params=params)


def accepted(answer: httpx.Response) -> Accepted:
    payload = json_or_problem(answer)
    return Accepted(
        payload["proposal_id"],
        payload["status"],
        answer.headers.get("location"),
        payload,
        answer.status_code,
        answer.headers.get("x-correlation-id"),
    )


def json_or_problem(answer: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object; Problem for a refusal, and for an answer that is no JSON object (a
    proxy's or a crashed server's page), which tells the caller nothing it could use."""
    kind = answer.headers.get("content-type")
    try:
        body = answer.json() if answer.content else {}
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise Problem(answer.status_code, {"title": answer.reason_phrase, "detail": answer.text[:500]}, kind)
    if answer.status_code >= 400:
        raise Problem(answer.status_code, body, kind)
    return body


def settled(
    outcome: httpx.Response | httpx.TransportError, attempt: int, retries: int
) -> httpx.Response | None:
    """The answer to give the caller, or None to try again: a lost connection or a 5xx is tried again
    while tries remain (the last one's error is raised, its answer given)."""
    if isinstance(outcome, httpx.TransportError):
        if attempt < retries:
            return None
        raise outcome
    return outcome if outcome.status_code < 500 or attempt == retries else None


def pause(attempt: int) -> float:
    return min(0.2 * 2.0**attempt, 2.0)
