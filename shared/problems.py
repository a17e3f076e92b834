"""Every problem either service answers (RFC 9457 application/problem+json), each a type of its own.

A problem type is named by a URI reference of this API, `/problems/<name>`, and described in
docs/problems.md. A type has one title and one status: the services find a problem's type by its title.
A problem of no type listed here (an HTTP error with no more to it than its status) is `about:blank`.

The model below is what the OpenAPI documents say a problem is; `problem_responses` declares, for a
route, each problem it can answer, with an example of each.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from shared.lifecycle import Status

PROBLEM_JSON = "application/problem+json"
ABOUT_BLANK = "about:blank"


@dataclass(frozen=True)
class ProblemType:
    name: str
    status: int
    title: str
    # When it is answered (docs/problems.md says the same, at more length).
    about: str
    # An example of the problem's members besides type, title and status.
    example: dict[str, Any] = field(default_factory=dict)

    @property
    def uri(self) -> str:
        return f"/problems/{self.name}"


def _field_refused(detail: str, field_name: str, rule: str, message: str) -> dict[str, Any]:
    """The example of a problem that names the field it refuses, and the rule."""
    return {"detail": detail, "errors": [{"field": field_name, "rule": rule, "message": message}]}


MALFORMED_JSON = ProblemType(
    "malformed-json",
    400,
    "Malformed JSON",
    "The request body is not JSON.",
    _field_refused("the request body is not valid JSON", "body", "json_invalid", "JSON decode error"),
)
BAD_IF_MATCH = ProblemType(
    "bad-if-match",
    400,
    "Bad If-Match",
    "If-Match is not an ETag this API gave.",
    {"detail": 'If-Match must be an ETag of this API, such as "3"'},
)
UNAUTHORIZED = ProblemType(
    "unauthorized",
    401,
    "Unauthorized",
    "No API key, or a key that is unknown or revoked.",
    {"detail": "send Authorization: Bearer <api key>"},
)
FORBIDDEN = ProblemType(
    "forbidden",
    403,
    "Forbidden",
    "The key's role may not do this.",
    {"detail": "this needs the role reviewer; the key is a submitter's"},
)
PROPOSAL_NOT_FOUND = ProblemType(
    "proposal-not-found",
    404,
    "Proposal not found",
    "No such proposal (in intake: none of the caller's; with as_of: none yet at that time).",
    {"detail": "no proposal 0e0c7a4e-3c1b-4d8e-a3a4-0f6f6b7f9c11 of yours"},
)
NOT_FOUND = ProblemType("not-found", 404, "Not Found", "No route at this path.", {"detail": "Not Found"})
METHOD_NOT_ALLOWED = ProblemType(
    "method-not-allowed",
    405,
    "Method Not Allowed",
    "The path has no route for this method.",
    {"detail": "Method Not Allowed"},
)
MOVE_NOT_ALLOWED = ProblemType(
    "move-not-allowed",
    409,
    "Move not allowed",
    "The proposal's status does not allow this move; `allowed_moves` lists the ones it does.",
    {
        "detail": "cannot move to 'withdrawn': proposal is 'registered'; allowed moves: top99, not_selected",
        "current_status": "registered",
        "allowed_moves": ["top99", "not_selected"],
    },
)
CHANGED_CONCURRENTLY = ProblemType(
    "changed-concurrently",
    409,
    "Changed concurrently",
    "Another decision on the proposal was recorded first; read it again and decide again.",
    {"detail": "another decision was recorded first: stream at version 3, not 2", "current_version": 3},
)
HISTORY_DOES_NOT_VERIFY = ProblemType(
    "history-does-not-verify",
    409,
    "History does not verify",
    "The hash chain is broken, so no digest is signed over it; the chain report's members say where.",
    {
        "detail": "no digest is signed over a broken chain",
        "intact": False,
        "checked": 41,
        "head_position": 40,
        "head_hash": "9f2c" * 16,
        "first_mismatch": 41,
        "reason": "the stored event does not match its hash, or the hash does not follow the previous one",
    },
)
STALE_VERSION = ProblemType(
    "stale-version",
    412,
    "Stale version",
    "If-Match names a version of the proposal that is no longer its current one.",
    {"detail": "the proposal is at version 3, not 2", "current_version": 3, "expected_version": 2},
)
BODY_TOO_LARGE = ProblemType(
    "body-too-large",
    413,
    "Request Entity Too Large",
    "The request body is over 1 MiB.",
    {"detail": "the request body is larger than 1048576 bytes"},
)
INVALID_REQUEST = ProblemType(
    "invalid-request",
    422,
    "Invalid request",
    "A body member, query parameter, path parameter or header is not of its type or out of its range; "
    "`errors` names each one.",
    _field_refused("sections.summary: Field required", "sections.summary", "missing", "Field required"),
)
INVALID_CURSOR = ProblemType(
    "invalid-cursor",
    422,
    "Invalid cursor",
    "`cursor` is not a next_cursor this API returned.",
    _field_refused(
        "cursor must be a next_cursor this API returned", "cursor", "cursor", "not a cursor of this list"
    ),
)
ROUND_RULES = ProblemType(
    "round-rules",
    422,
    "Proposal breaks the round's rules",
    "The proposal is well formed but its round refuses it (window, words, documents, groups...); "
    "`errors` names each field and rule.",
    _field_refused(
        "sections.summary: section 'summary' has 201 words; the limit is 200",
        "sections.summary",
        "max_words",
        "section 'summary' has 201 words; the limit is 200",
    ),
)
IDEMPOTENCY_KEY_REUSED = ProblemType(
    "idempotency-key-reused",
    422,
    "Idempotency-Key reused",
    "The Idempotency-Key was used before with a different request.",
    _field_refused(
        "this Idempotency-Key was used before with a different request",
        "Idempotency-Key",
        "same_request",
        "key used for another request",
    ),
)
DIGEST_REFUSED = ProblemType(
    "digest-refused",
    422,
    "Digest refused",
    "The digest is not one this ledger signed, or its signature does not verify.",
    {"detail": "the signature does not match the digest: it was altered"},
)
SERVICE_UNAVAILABLE = ProblemType(
    "service-unavailable",
    503,
    "Service unavailable",
    "The database or the broker is out of reach for now; nothing was done, retry shortly.",
    {"detail": "a dependency is not reachable right now (ConnectionRefusedError); retry shortly"},
)
NOT_IN_THE_LOG = ProblemType(
    "not-in-the-log",
    422,
    "Not in the log",
    "A proof asked for positions or tree sizes the log does not have (yet), or in the wrong order.",
    {"detail": "the log has 812 events, not 900"},
)
NO_CHECKPOINT = ProblemType(
    "no-checkpoint",
    404,
    "No checkpoint",
    "The log is empty: there is nothing to sign a checkpoint of yet.",
    {"detail": "the log is empty: nothing to sign yet"},
)
COSIGNATURE_REFUSED = ProblemType(
    "cosignature-refused",
    422,
    "Cosignature refused",
    "The cosignature is not a witness's valid cosignature of that checkpoint.",
    {"detail": "the cosignature of babelprov.go.id/witness does not match the checkpoint"},
)

PROBLEM_TYPES = (
    MALFORMED_JSON,
    BAD_IF_MATCH,
    UNAUTHORIZED,
    FORBIDDEN,
    PROPOSAL_NOT_FOUND,
    NOT_FOUND,
    METHOD_NOT_ALLOWED,
    MOVE_NOT_ALLOWED,
    CHANGED_CONCURRENTLY,
    HISTORY_DOES_NOT_VERIFY,
    STALE_VERSION,
    BODY_TOO_LARGE,
    INVALID_REQUEST,
    INVALID_CURSOR,
    ROUND_RULES,
    IDEMPOTENCY_KEY_REUSED,
    DIGEST_REFUSED,
    SERVICE_UNAVAILABLE,
    NOT_IN_THE_LOG,
    NO_CHECKPOINT,
    COSIGNATURE_REFUSED,
)
_BY_TITLE = {(kind.status, kind.title): kind for kind in PROBLEM_TYPES}


def type_uri(status: int, title: str) -> str:
    """The URI of the problem type with this status and title; about:blank for none of them."""
    kind = _BY_TITLE.get((status, title))
    return kind.uri if kind else ABOUT_BLANK


# What a route that takes an API key can answer whatever it does, and what a body adds.
KEYED = (UNAUTHORIZED, FORBIDDEN, SERVICE_UNAVAILABLE)
WITH_BODY = (MALFORMED_JSON, BODY_TOO_LARGE, INVALID_REQUEST)


class FieldError(BaseModel):
    field: str = Field(
        description="What is wrong: a path in the body (sections.summary, sdgs[2]; `body` for the whole "
        "of it), or the name of a query parameter, path parameter or header"
    )
    rule: str = Field(
        description="The rule it breaks: a type check (missing, string_too_long, extra_forbidden, ...) or "
        "a round's rule (max_words, max_chars, round_closed, ...)"
    )
    message: str


def _uri_reference(schema: dict[str, Any]) -> None:
    schema["format"] = "uri-reference"


class ProblemDetails(BaseModel):
    """RFC 9457 problem details. The members after `detail` are present only in the problems that have
    them (see each problem type in docs/problems.md)."""

    model_config = ConfigDict(title="Problem")

    type: str = Field(
        description="The problem type: /problems/<name>, described in docs/problems.md; about:blank for an "
        "HTTP error with no more to it than its status",
        json_schema_extra=_uri_reference,
    )
    title: str = Field(description="The problem type's title: the same for every problem of the type")
    status: int = Field(ge=400, le=599, description="The HTTP status code")
    detail: str = Field(description="What went wrong this time")
    errors: list[FieldError] | SkipJsonSchema[None] = Field(
        default=None, description="Each field refused, with the rule it breaks"
    )
    current_status: Status | None = Field(default=None, description="The proposal's status now")
    allowed_moves: list[Status] | SkipJsonSchema[None] = Field(
        default=None, description="The statuses the proposal may move to from `current_status`"
    )
    current_version: int | SkipJsonSchema[None] = Field(
        default=None, description="The proposal's version now (its ETag)"
    )
    expected_version: int | SkipJsonSchema[None] = Field(
        default=None, description="The version If-Match named"
    )


def example(kind: ProblemType) -> dict[str, Any]:
    return {"type": kind.uri, "title": kind.title, "status": kind.status, **kind.example}


def problem_responses(*kinds: ProblemType | Iterable[ProblemType]) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status its problems can have, as application/problem+json, with an
    example of each problem type."""
    flat: list[ProblemType] = []
    for each in kinds:
        flat.extend([each] if isinstance(each, ProblemType) else each)
    answers: dict[int | str, dict[str, Any]] = {}
    distinct = sorted({kind.name: kind for kind in flat}.values(), key=lambda k: (k.status, k.name))
    for status, same in groupby(distinct, lambda k: k.status):
        listed = list(same)
        answers[status] = {
            "description": "\n".join(f"- {kind.title} (`{kind.uri}`): {kind.about}" for kind in listed),
            "content": {
                PROBLEM_JSON: {
                    "schema": {"$ref": "#/components/schemas/Problem"},
                    "examples": {
                        kind.name: {"summary": kind.title, "value": example(kind)} for kind in listed
                    },
                }
            },
        }
    return answers
