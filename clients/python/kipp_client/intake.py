"""The intake API as a submitting system uses it: submit, revise, withdraw, read.

Every write carries an `Idempotency-Key`: one the caller gives, or one made here. A write that fails on
the network or with a 5xx is sent again with the same key, so the service answers the first result
again instead of acting twice.
"""

import time
import uuid
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx

RETRIES = 3


class Problem(Exception):
    """A problem+json answer: what was refused and why (`errors` name each field and rule)."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
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


class IntakeClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        retries: int = RETRIES,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout,
            transport=transport,
        )
        self._retries = retries

    def __enter__(self) -> "IntakeClient":
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def submit(self, proposal: dict[str, Any], *, idempotency_key: str | None = None) -> Accepted:
        return self._write("POST", "/v1/proposals", proposal, idempotency_key)

    def revise(
        self, proposal_id: str, proposal: dict[str, Any], *, idempotency_key: str | None = None
    ) -> Accepted:
        return self._write("PUT", f"/v1/proposals/{proposal_id}", proposal, idempotency_key)

    def withdraw(self, proposal_id: str, reason: str, *, idempotency_key: str | None = None) -> Accepted:
        return self._write(
            "POST", f"/v1/proposals/{proposal_id}/withdrawal", {"reason": reason}, idempotency_key
        )

    def get(self, proposal_id: str) -> ProposalView:
        return ProposalView.from_json(self._read(f"/v1/proposals/{proposal_id}"))

    def status(self, proposal_id: str) -> str:
        return self.get(proposal_id).status

    def list(self, *, status: str | None = None, limit: int = 50) -> list[ProposalView]:
        """Every proposal of the key's holder (newest first), following the cursor to the end."""
        found: list[ProposalView] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": limit}
            if status:
                params["status"] = status
            if cursor:
                params["cursor"] = cursor
            page = self._read("/v1/proposals", params)
            found.extend(ProposalView.from_json(item) for item in page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                return found

    def _write(self, method: str, path: str, body: dict[str, Any], key: str | None) -> Accepted:
        headers = {"Idempotency-Key": key or str(uuid.uuid4())}
        answer = self._with_retries(lambda: self._http.request(method, path, json=body, headers=headers))
        payload = _json_or_problem(answer)
        return Accepted(payload["proposal_id"], payload["status"], answer.headers.get("location"), payload)

    def _read(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return _json_or_problem(self._with_retries(lambda: self._http.get(path, params=params)))

    def _with_retries(self, send: Any) -> httpx.Response:
        for attempt in range(self._retries + 1):
            try:
                answer: httpx.Response = send()
            except httpx.TransportError:
                if attempt == self._retries:
                    raise
            else:
                if answer.status_code < 500 or attempt == self._retries:
                    return answer
            time.sleep(min(0.2 * 2**attempt, 2.0))
        raise AssertionError("unreachable")


def _json_or_problem(answer: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = answer.json() if answer.content else {}
    if answer.status_code >= 400:
        raise Problem(answer.status_code, body)
    return body
