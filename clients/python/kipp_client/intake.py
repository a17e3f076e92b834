"""The intake API as a submitting system uses it: submit, revise, withdraw, read.

Every write carries an `Idempotency-Key`: one the caller gives, or one made here. A write that fails on
the network or with a 5xx is sent again with the same key, so the service answers the first result
again instead of acting twice. A correlation id, given to the client or to one call, travels as
`X-Correlation-ID` and follows the proposal through both services' logs and events.

`IntakeClient` blocks; `AsyncIntakeClient` is the same API for asyncio.
"""

import asyncio
import time
from types import TracebackType
from typing import Any, Self

import httpx

from kipp_client.calls import (
    Accepted,
    Call,
    Page,
    ProposalView,
    accepted,
    json_or_problem,
    listing,
    pause,
    reading,
    revision,
    settled,
    submission,
    withdrawal,
)

RETRIES = 3


def _settings(
    api_key: str, correlation_id: str | None, timeout: float
) -> dict[str, Any]:  # what both clients give httpx
    headers = {"Authorization": f"Bearer {api_key}"}
    if correlation_id:
        headers["X-Correlation-ID"] = correlation_id
    return {"headers": headers, "timeout": timeout}


class IntakeClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        retries: int = RETRIES,
        correlation_id: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        settings = _settings(api_key, correlation_id, timeout)
        self._http = httpx.Client(base_url=base_url, transport=transport, **settings)
        self._retries = retries

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def submit(
        self,
        proposal: dict[str, Any],
        *,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
    ) -> Accepted:
        return accepted(self._send(submission(proposal, idempotency_key, correlation_id)))

    def revise(
        self,
        proposal_id: str,
        proposal: dict[str, Any],
        *,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
    ) -> Accepted:
        return accepted(self._send(revision(proposal_id, proposal, idempotency_key, correlation_id)))

    def withdraw(
        self,
        proposal_id: str,
        reason: str,
        *,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
    ) -> Accepted:
        return accepted(self._send(withdrawal(proposal_id, reason, idempotency_key, correlation_id)))

    def get(self, proposal_id: str) -> ProposalView:
        return ProposalView.from_json(json_or_problem(self._send(reading(proposal_id))))

    def status(self, proposal_id: str) -> str:
        return self.get(proposal_id).status

    def page(self, *, status: str | None = None, limit: int = 50, cursor: str | None = None) -> Page:
        return Page.from_json(json_or_problem(self._send(listing(status, limit, cursor))))

    def list(self, *, status: str | None = None, limit: int = 50) -> list[ProposalView]:
        """Every proposal of the key's holder (newest first), following the cursor to the end."""
        found: list[ProposalView] = []
        cursor: str | None = None
        while True:
            page = self.page(status=status, limit=limit, cursor=cursor)
            found.extend(page.items)
            if not (cursor := page.next_cursor):
                return found

    def _send(self, call: Call) -> httpx.Response:
        for attempt in range(self._retries + 1):
            if (answer := settled(self._try(call), attempt, self._retries)) is not None:
                return answer
            time.sleep(pause(attempt))
        raise AssertionError("unreachable")

    def _try(self, call: Call) -> httpx.Response | httpx.TransportError:
        try:
            return self._http.request(
                call.method, call.path, json=call.json, params=call.params, headers=call.headers
            )
        except httpx.TransportError as error:
            return error


class AsyncIntakeClient:
    """`IntakeClient` for asyncio: the same calls, awaited."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        retries: int = RETRIES,
        correlation_id: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        settings = _settings(api_key, correlation_id, timeout)
        self._http = httpx.AsyncClient(base_url=base_url, transport=transport, **settings)
        self._retries = retries

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def submit(
        self,
        proposal: dict[str, Any],
        *,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
    ) -> Accepted:
        return accepted(await self._send(submission(proposal, idempotency_key, correlation_id)))

    async def revise(
        self,
        proposal_id: str,
        proposal: dict[str, Any],
        *,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
    ) -> Accepted:
        return accepted(await self._send(revision(proposal_id, proposal, idempotency_key, correlation_id)))

    async def withdraw(
        self,
        proposal_id: str,
        reason: str,
        *,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
    ) -> Accepted:
        return accepted(await self._send(withdrawal(proposal_id, reason, idempotency_key, correlation_id)))

    async def get(self, proposal_id: str) -> ProposalView:
        return ProposalView.from_json(json_or_problem(await self._send(reading(proposal_id))))

    async def status(self, proposal_id: str) -> str:
        return (await self.get(proposal_id)).status

    async def page(self, *, status: str | None = None, limit: int = 50, cursor: str | None = None) -> Page:
        return Page.from_json(json_or_problem(await self._send(listing(status, limit, cursor))))

    async def list(self, *, status: str | None = None, limit: int = 50) -> list[ProposalView]:
        """Every proposal of the key's holder (newest first), following the cursor to the end."""
        found: list[ProposalView] = []
        cursor: str | None = None
        while True:
            page = await self.page(status=status, limit=limit, cursor=cursor)
            found.extend(page.items)
            if not (cursor := page.next_cursor):
                return found

    async def _send(self, call: Call) -> httpx.Response:
        for attempt in range(self._retries + 1):
            if (answer := settled(await self._try(call), attempt, self._retries)) is not None:
                return answer
            await asyncio.sleep(pause(attempt))
        raise AssertionError("unreachable")

    async def _try(self, call: Call) -> httpx.Response | httpx.TransportError:
        try:
            return await self._http.request(
                call.method, call.path, json=call.json, params=call.params, headers=call.headers
            )
        except httpx.TransportError as error:
            return error
