"""Bad input over HTTP, on the real services in this process: a 4xx problem naming the field, never a 500
(NUL, NaN and Infinity, times out of range, padded sections, a round that is closed)."""

import base64
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.intake.app import create_app as create_intake
from services.intake.settings import IntakeSettings
from shared.contract import Topology
from tests.apps import intake_app, review_app, running
from tests.fixtures import a_proposal, reopened_2023
from tests.keys import Keys, bearer


@pytest.fixture
async def intake(
    database_url: str, amqp_url: str, topology: Topology, keys: Keys
) -> AsyncIterator[httpx.AsyncClient]:
    async with running(intake_app(database_url, amqp_url, topology)) as client:
        client.headers.update(bearer(keys.submitter))
        yield client


@pytest.fixture
async def review(
    database_url: str, amqp_url: str, topology: Topology, keys: Keys
) -> AsyncIterator[httpx.AsyncClient]:
    async with running(review_app(database_url, amqp_url, topology)) as client:
        client.headers.update(bearer(keys.auditor))
        yield client


def problem_fields(answer: httpx.Response) -> list[tuple[str, str]]:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    return [(error["field"], error["rule"]) for error in answer.json()["errors"]]


def with_nul_url(field: str) -> dict[str, Any]:
    proposal = a_proposal()
    if field == "documents[0].url":
        proposal["documents"][0]["url"] = "https://bangkabaratkab.go.id/sk\x00.pdf"
    elif field == "video_url":
        proposal["video_url"] = "https://youtu.be/\x00"
    else:
        proposal["group"] = "khusus"
        proposal["replicates"] = {
            "title": "Lapor",
            "region": "Kota Pangkalpinang",
            "url": "https://x.id/\x00",
        }
    return proposal


@pytest.mark.parametrize("field", ["documents[0].url", "video_url", "replicates.url"])
async def test_a_nul_in_a_url_is_refused_naming_the_field(intake: httpx.AsyncClient, field: str) -> None:
    answer = await intake.post("/v1/proposals", json=with_nul_url(field))
    assert problem_fields(answer) == [(field, "value_error")]
    revision = await intake.put(f"/v1/proposals/{uuid.uuid4()}", json=with_nul_url(field))
    assert problem_fields(revision) == [(field, "value_error")]


async def test_padded_or_endless_sections_are_refused_naming_the_section(intake: httpx.AsyncClient) -> None:
    sections = a_proposal()["sections"]
    padded = a_proposal(sections={**sections, "summary": "\u200b".join(["kata"] * 5_000)})
    assert problem_fields(await intake.post("/v1/proposals", json=padded)) == [
        ("sections.summary", "max_chars")
    ]
    hidden = a_proposal(sections={**sections, "summary": "\u200b".join(["kata"] * 201)})
    assert problem_fields(await intake.post("/v1/proposals", json=hidden)) == [
        ("sections.summary", "max_words")
    ]
    endless = a_proposal(sections={**sections, "novelty": "a" * 10_000})
    answer = await intake.post("/v1/proposals", json=endless)
    assert problem_fields(answer) == [("sections.novelty", "max_chars")]
    assert "10000 characters; the cap is 3000" in answer.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    ("window", "says"),
    [
        (None, "from 2023-01-01 to 2023-05-06"),  # the shipped round: closed
        ({"opens_on": "2099-01-01", "closes_on": "2099-12-31"}, "from 2099-01-01 to 2099-12-31"),  # not yet
    ],
)
async def test_a_round_that_is_not_open_today_is_refused_at_intake(
    database_url: str,
    amqp_url: str,
    topology: Topology,
    keys: Keys,
    tmp_path: Path,
    window: dict[str, str] | None,
    says: str,
) -> None:
    # This test runs its own rounds, not the reopened 2023 the other tests submit to.
    if window is not None:
        rules = reopened_2023().model_dump(mode="json") | window
        (tmp_path / "kipp-2023.json").write_text(json.dumps(rules))
    settings = IntakeSettings(
        database_url=database_url, amqp_url=amqp_url, prefix=topology.prefix, rounds_dir=str(tmp_path)
    )
    async with running(create_intake(settings)) as intake:
        intake.headers.update(bearer(keys.submitter))
        for answer in (
            await intake.post("/v1/proposals", json=a_proposal()),
            await intake.put(f"/v1/proposals/{uuid.uuid4()}", json=a_proposal()),
        ):
            assert problem_fields(answer) == [("round", "round_closed")]
            assert answer.json()["title"] == "Proposal breaks the round's rules"
            assert says in answer.json()["errors"][0]["message"]


@pytest.mark.parametrize("name", ["agency", "regency"])
async def test_a_nul_in_a_list_filter_is_refused_naming_it(review: httpx.AsyncClient, name: str) -> None:
    answer = await review.get("/v1/proposals", params={name: "Dinas\x00"})
    assert problem_fields(answer) == [(f"query.{name}", "value_error")]
    assert (await review.get("/v1/proposals", params={name: "Dinas"})).json()["items"] == []


@pytest.mark.parametrize("as_of", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
async def test_a_time_out_of_range_in_utc_is_refused_naming_as_of(
    review: httpx.AsyncClient, as_of: str
) -> None:
    answer = await review.get(f"/v1/proposals/{uuid.uuid4()}", params={"as_of": as_of})
    assert problem_fields(answer) == [("query.as_of", "value_error")]


@pytest.mark.parametrize(
    "moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2023-04-10T08:30:00", "0001-01-01"]
)
async def test_a_cursor_whose_time_does_not_fit_is_an_invalid_cursor(
    review: httpx.AsyncClient, moment: str
) -> None:
    cursor = base64.urlsafe_b64encode(f"{moment}|{uuid.uuid4()}".encode()).decode()
    answer = await review.get("/v1/proposals", params={"cursor": cursor})
    assert problem_fields(answer) == [("cursor", "cursor")]
    assert answer.json()["title"] == "Invalid cursor"


@pytest.mark.parametrize(
    ("position", "rule"),
    [
        ("NaN", "int_type"),
        ("Infinity", "int_type"),
        ("-Infinity", "int_type"),
        ("1e999", "int_type"),
        (str(2**63), "less_than_equal"),
        ("-1", "greater_than_equal"),
    ],
)
async def test_a_digest_that_is_not_one_is_refused_naming_the_field(
    review: httpx.AsyncClient, position: str, rule: str
) -> None:
    digest = (await review.get("/v1/audit/digest")).json()
    body = json.dumps({**digest, "position": "POSITION"}).replace('"POSITION"', position)
    answer = await review.post(
        "/v1/audit/digest/verification", content=body, headers={"Content-Type": "application/json"}
    )
    assert problem_fields(answer) == [("position", rule)]
    verified = await review.post("/v1/audit/digest/verification", json=digest)
    assert verified.status_code == 200, verified.text
    forged = await review.post("/v1/audit/digest/verification", json={**digest, "key_id": "0" * 16})
    assert forged.status_code == 422
    assert forged.json()["title"] == "Digest refused"
    altered = await review.post("/v1/audit/digest/verification", json={**digest, "head_hash": "1" * 64})
    assert altered.json()["title"] == "Digest refused"


@pytest.mark.parametrize("method", ["POST", "PUT"])
async def test_a_body_with_no_canonical_form_and_an_idempotency_key_is_refused_not_a_500(
    intake: httpx.AsyncClient, method: str
) -> None:
    # Found by the OpenAPI contract run: the key's request hash took the body's RFC 8785 form, which an
    # integer beyond 2**53 does not have.
    path = "/v1/proposals" if method == "POST" else f"/v1/proposals/{uuid.uuid4()}"
    answer = await intake.request(
        method, path, json=a_proposal(sdgs=[-183355328539274112]), headers={"Idempotency-Key": "k-big"}
    )
    assert answer.status_code in (404, 422), answer.text
    if method == "POST":
        assert ("sdgs[0]", "sdg_range") in problem_fields(answer)
