"""Each running service against its own OpenAPI document: requests generated from the document (valid ones,
ones the document says are invalid, and valid ones on a proposal that exists) never get a 5xx, and every
answer is one the document describes (a documented status, its content type and headers, a body of its
schema).

Bounded and deterministic: a fixed number of examples per operation, with Hypothesis's derandomized seed.
"""

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis.strategies import SearchStrategy
from kipp_client import AsyncIntakeClient
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.conftest import System
from tests.e2e.test_review_lifecycle import status_in_review, submit
from tests.keys import Keys, bearer

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
RANDOM, INVALID, ON_THE_PROPOSAL = "random", "invalid", "on a proposal that exists"
EXAMPLES = {RANDOM: 20, INVALID: 15, ON_THE_PROPOSAL: 15}
TIME_LIMIT_SECONDS = 60.0


@dataclass
class Run:
    requests: int = 0
    failures: list[str] = field(default_factory=list)


Operation = APIOperation[Any, Any, Any, Any]


def fuzz(base_url: str, keys: dict[str, str], proposal_id: str) -> Run:
    """Every operation of the service's document, each way, with the key of the role its routes take
    (`keys` by path prefix)."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", timeout=10)
    run = Run()
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        key = next(key for prefix, key in keys.items() if operation.path.startswith(prefix))
        for way, examples in EXAMPLES.items():
            strategy = _strategy(operation, way, proposal_id)
            if strategy is None:
                continue
            try:
                _call(strategy, examples, base_url, bearer(key), run)
            except hypothesis.errors.Unsatisfiable:
                pass  # no parameters and no body: nothing to make invalid
            except Exception as failure:  # each operation's first failure, all of them reported at the end
                run.failures.append(f"{operation.label} ({way}): {failure}")
    return run


def _call(
    strategy: SearchStrategy[Case[Operation]], examples: int, base_url: str, headers: dict[str, str], run: Run
) -> None:
    @hypothesis.settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=strategy)
    def call(case: Case[Operation]) -> None:
        run.requests += 1
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=10)

    call()


def _strategy(operation: Operation, way: str, proposal_id: str) -> SearchStrategy[Case[Operation]] | None:
    if way == INVALID:
        return operation.as_strategy(GenerationMode.NEGATIVE)
    if way == RANDOM:
        return operation.as_strategy(GenerationMode.POSITIVE)
    if "{proposal_id}" not in operation.path:
        return None
    return operation.as_strategy(GenerationMode.POSITIVE, path_parameters={"proposal_id": proposal_id})


@pytest.mark.parametrize("service", ["intake", "review"])
async def test_every_answer_is_one_the_openapi_document_describes(
    system: System, keys: Keys, intake: AsyncIntakeClient, review: httpx.AsyncClient, service: str
) -> None:
    # A proposal in both services, so that routes on a proposal reach one, not only their 404.
    proposal_id = await submit(intake)
    await status_in_review(review, proposal_id, "submitted")
    # Each route with a key of the role it takes (a key of another role gets the documented 403).
    if service == "intake":
        base_url, by_path = system.intake.url, {"/": keys.submitter}
    else:
        base_url = system.review.url
        by_path = {"/v1/events": keys.auditor, "/v1/audit": keys.auditor, "/": keys.reviewer}
    started = time.monotonic()
    run = await asyncio.to_thread(fuzz, base_url, by_path, proposal_id)
    took = time.monotonic() - started
    assert run.failures == [], "\n\n".join(run.failures)
    assert run.requests > 100
    assert took < TIME_LIMIT_SECONDS, f"{run.requests} requests took {took:.0f} s"
