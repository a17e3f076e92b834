"""The OpenAPI document each service serves at /openapi.json, saying what the service really answers.

Routes declare their answers (`answers`): a model per success, documentation only (the handlers' answers
are not validated or re-encoded on the way out), and each problem they can answer as
application/problem+json. FastAPI's own validation answer (422 with `detail[].loc`) is not what the
services answer (see `shared.http`), so it is replaced wherever FastAPI would add it.
"""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from shared.problems import INVALID_REQUEST, ProblemDetails, ProblemType, problem_responses

_SCHEMAS = "#/components/schemas/"
_FASTAPI_422 = f"{_SCHEMAS}HTTPValidationError"


def answers(
    model: Any,
    *problems: ProblemType | tuple[ProblemType, ...],
    status: int = 200,
    description: str = "",
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A route decorator's keyword arguments: `model` documents the success answer (`status`), with
    `headers` (name: description); `extra` adds another representation of it (content type: schema)."""
    success: dict[str, Any] = {"model": model, "description": description or "Success"}
    if headers:
        success["headers"] = {
            name: {"description": about, "schema": {"type": "string"}} for name, about in headers.items()
        }
    if extra:
        success["content"] = {media: {"schema": schema} for media, schema in extra.items()}
    return {
        "status_code": status,
        "response_model": None,
        "responses": {status: success, **problem_responses(*problems)},
    }


def install_openapi(app: FastAPI) -> None:
    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _document(app)
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]


def _document(app: FastAPI) -> dict[str, Any]:
    spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    problem = ProblemDetails.model_json_schema(ref_template=_SCHEMAS + "{model}")
    for name, schema in {**problem.pop("$defs", {}), "Problem": problem}.items():
        if schemas.setdefault(name, schema) != schema:
            raise ValueError(f"two schemas named {name} in the OpenAPI document")
    invalid = problem_responses(INVALID_REQUEST)[INVALID_REQUEST.status]
    for path_item in spec.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.get("responses", {})
            if _FASTAPI_422 in str(responses.get("422")):
                responses["422"] = invalid
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    return spec
