"""HTTP pieces both services share: RFC 9457 problem responses and the request body size limit. Each
problem's type is found by its title among the types in `shared.problems`."""

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.lifecycle import TransitionRefused
from shared.problems import PROBLEM_JSON, type_uri
from shared.startup import UNREACHABLE
from shared.validation import field_path

MAX_BODY_BYTES = 1024 * 1024


class Problem(Exception):
    """An error answered as application/problem+json; `extra` adds members such as the current status."""

    def __init__(
        self, status: int, title: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.headers = headers
        self.extra = extra


def invalid_cursor() -> Problem:
    return Problem(
        422,
        "Invalid cursor",
        "cursor must be a next_cursor this API returned",
        errors=[{"field": "cursor", "rule": "cursor", "message": "not a cursor of this list"}],
    )


def move_not_allowed(refused: TransitionRefused) -> Problem:
    """409 for a move the lifecycle refuses, naming the current status and the moves it allows."""
    return Problem(
        409,
        "Move not allowed",
        str(refused),
        current_status=refused.current.value,
        allowed_moves=refused.allowed,
    )


def problem_response(
    status: int, title: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {"type": type_uri(status, title), "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def invalid_fields(errors: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [
        {
            "field": "body" if error["type"] == "json_invalid" else field_path(tuple(error["loc"])),
            "rule": error["type"],
            "message": error["msg"],
        }
        for error in errors
    ]


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_: Request, error: Problem) -> JSONResponse:
        return problem_response(error.status, error.title, error.detail, error.headers, **error.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        errors = invalid_fields(list(error.errors()))
        if any(e["rule"] == "json_invalid" for e in errors):
            return problem_response(
                400, "Malformed JSON", "the request body is not valid JSON", errors=errors
            )
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem_response(422, "Invalid request", detail, errors=errors)

    async def _unavailable(_: Request, error: Exception) -> JSONResponse:
        # Nothing was acknowledged: the client may retry (with the same Idempotency-Key, if it sent one).
        detail = f"a dependency is not reachable right now ({type(error).__name__}); retry shortly"
        return problem_response(503, "Service unavailable", detail, {"Retry-After": "1"})

    for unreachable in UNREACHABLE:
        app.add_exception_handler(unreachable, _unavailable)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, error: StarletteHTTPException) -> JSONResponse:
        return problem_response(error.status_code, HTTPStatus(error.status_code).phrase, str(error.detail))


class BodySizeLimit:
    """413 as problem+json for a body over the limit: at once when its Content-Length says so, and when
    the bytes that arrive pass the limit otherwise (raised as an HTTPException, which FastAPI passes on
    to the problem handlers rather than turning into a 400)."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        detail = f"the request body is larger than {self.max_bytes} bytes"
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await problem_response(413, HTTPStatus(413).phrase, detail)(scope, receive, send)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise StarletteHTTPException(413, detail)
            return message

        await self.app(scope, counting_receive, send)
