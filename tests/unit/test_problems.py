"""Every problem the services answer has a type of its own, documented in docs/problems.md, and the OpenAPI
documents say, for every route, what it answers: its success model and each problem as problem+json."""

import json
import re
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from services.intake.app import create_app as create_intake
from services.intake.settings import IntakeSettings
from services.review.app import create_app as create_review
from services.review.settings import ReviewSettings
from shared.http import problem_response
from shared.problems import ABOUT_BLANK, PROBLEM_JSON, PROBLEM_TYPES, type_uri

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "problems.md"
# Problem(404, "Proposal not found", ...) and problem_response(503, "Service unavailable", ...) in the code.
RAISED = re.compile(r"\b(?:Problem|problem_response)\(\s*(\d{3}),\s*\"([^\"]+)\"")


def test_each_problem_type_is_documented_with_its_title_and_status() -> None:
    text = DOCS.read_text(encoding="utf-8")
    documented = re.findall(r"^## `(/problems/[a-z-]+)`\n\n\*\*(.+?)\*\*, status (\d{3})\.", text, re.M)
    assert documented == [(kind.uri, kind.title, str(kind.status)) for kind in PROBLEM_TYPES]
    assert len({kind.uri for kind in PROBLEM_TYPES}) == len(PROBLEM_TYPES)


def test_every_problem_the_code_answers_has_a_documented_type() -> None:
    raised = {
        (int(status), title)
        for path in [*ROOT.joinpath("services").rglob("*.py"), *ROOT.joinpath("shared").rglob("*.py")]
        for status, title in RAISED.findall(path.read_text(encoding="utf-8"))
    }
    # And the HTTP errors the framework raises, titled by their status's phrase (see shared.http).
    raised |= {(status, HTTPStatus(status).phrase) for status in (404, 405, 413)}
    assert len(raised) > 15
    untyped = sorted(found for found in raised if type_uri(*found) == ABOUT_BLANK)
    assert untyped == []


def test_a_problem_answer_carries_its_type() -> None:
    answer = problem_response(409, "Move not allowed", "cannot move", current_status="winner")
    body = json.loads(bytes(answer.body))
    assert (answer.media_type, body["type"], body["current_status"]) == (
        PROBLEM_JSON,
        "/problems/move-not-allowed",
        "winner",
    )
    other = json.loads(bytes(problem_response(418, "I'm a Teapot", "no").body))
    assert other["type"] == ABOUT_BLANK


def openapi(app: FastAPI) -> dict[str, Any]:
    document: dict[str, Any] = app.openapi()
    return document


@pytest.fixture(scope="module", params=["intake", "review"])
def document(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "intake":
        return openapi(create_intake(IntakeSettings()))
    return openapi(create_review(ReviewSettings()))


def test_no_route_documents_fastapis_own_validation_answer(document: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in json.dumps(document)
    assert "ValidationError" not in document["components"]["schemas"]


def test_every_route_documents_its_answer_and_its_problems(document: dict[str, Any]) -> None:
    types = {kind.uri: kind for kind in PROBLEM_TYPES}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            responses = operation["responses"]
            success = [code for code in responses if code.startswith("2")]
            assert success, where
            for code in success:
                content = responses[code]["content"]
                if "application/json" not in content:  # a text answer, such as a signed note
                    assert content["text/plain"]["schema"] == {"type": "string"}, where
                    continue
                assert "$ref" in content["application/json"]["schema"], where  # a model, not {}
            if not path.startswith("/v1/"):
                continue
            assert {"401", "403", "503"} <= set(responses), where
            if operation.get("parameters") or "requestBody" in operation:
                assert "422" in responses, where
            for code, answer in responses.items():
                if code.startswith("2"):
                    continue
                assert set(answer["content"]) == {PROBLEM_JSON}, where
                content = answer["content"][PROBLEM_JSON]
                assert content["schema"] == {"$ref": "#/components/schemas/Problem"}
                for example in content["examples"].values():
                    kind = types[example["value"]["type"]]
                    assert (kind.status, kind.title) == (int(code), example["value"]["title"]), where


def test_the_problem_schema_is_the_real_shape(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    problem = schemas["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    assert problem["properties"]["errors"]["items"] == {"$ref": "#/components/schemas/FieldError"}
    assert set(schemas["FieldError"]["required"]) == {"field", "rule", "message"}
