"""Reviewers' and auditors' routes on proposals: the status list, one proposal, decisions, history."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler
from pydantic_core import core_schema

from services.review.api.deps import DecisionWait, MasterKeyFile, Pool, Projector, Service, Store
from services.review.api.models import History, ProposalPage, ProposalView
from services.review.application import ReviewService, StaleVersion
from services.review.domain.commands import (
    Command,
    RecordSelection,
    RegisterNationally,
    RequestRevision,
    ValidateProposal,
    VerifyProposal,
)
from services.review.domain.decider import NOT_SUBMITTED, ProposalNotFound
from services.review.domain.events import ChecklistItem
from services.review.eventstore.base import ConcurrencyError
from services.review.personal_data import shown_folded
from services.review.queries import ListFilter, decode_cursor, get_view, get_view_as, list_views
from services.review.views import event_view, proposal_view
from shared.access import Caller, authenticate
from shared.access.http import READERS, PresentedKey, Reader, Reviewer, allowed
from shared.http import Problem, invalid_cursor, move_not_allowed
from shared.lifecycle import CheckOutcome, SelectionOutcome, Stage, Status, TransitionRefused
from shared.observability import correlation_id
from shared.openapi import answers
from shared.personal_data.master_key import MasterKey
from shared.problems import (
    BAD_IF_MATCH,
    CHANGED_CONCURRENTLY,
    INVALID_CURSOR,
    INVALID_REQUEST,
    KEYED,
    MOVE_NOT_ALLOWED,
    PROPOSAL_NOT_FOUND,
    STALE_VERSION,
    WITH_BODY,
)
from shared.proposal import Text
from shared.times import UtcTime

router = APIRouter(prefix="/v1/proposals", tags=["proposals"])

VIEW_HEADERS = {
    "ETag": 'The proposal\'s version, such as "3": send it as If-Match with a decision',
    "Warning": "Present when the answer was folded from the proposal's events because the status list "
    "has not caught up with them yet",
}
# Every decision answers the proposal after it, as GET does.
DECISION = answers(
    ProposalView,
    KEYED,
    WITH_BODY,
    BAD_IF_MATCH,
    PROPOSAL_NOT_FOUND,
    MOVE_NOT_ALLOWED,
    CHANGED_CONCURRENTLY,
    STALE_VERSION,
    description="Decided: the proposal after the decision",
    headers=VIEW_HEADERS,
)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class OneOf:
    """A string that takes one of the values of `choices`, read as a literal of them: a wrong value is
    answered with rule `literal_error`, and the schema lists the values in place."""

    choices: type[StrEnum]

    def __get_pydantic_core_schema__(self, _: Any, __: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.literal_schema([choice.value for choice in self.choices])


class ChecklistItemIn(_Body):
    passed: bool
    note: Text = Field(default="", max_length=2_000)


class VerificationIn(_Body):
    outcome: Annotated[str, OneOf(CheckOutcome)]
    # Each item either passed/failed, or with a note: {"SK inisiator": {"passed": false, "note": "unsigned"}}.
    checklist: dict[Text, bool | ChecklistItemIn] = {}
    notes: Text = Field(default="", max_length=10_000)

    def checklist_items(self) -> dict[str, ChecklistItem]:
        return {
            name: ChecklistItem(passed=item) if isinstance(item, bool) else ChecklistItem(**item.model_dump())
            for name, item in self.checklist.items()
        }

    def command(self, at: datetime) -> Command:
        outcome = CheckOutcome(self.outcome)
        return VerifyProposal(at=at, outcome=outcome, checklist=self.checklist_items(), notes=self.notes)


class ValidationIn(_Body):
    outcome: Annotated[str, OneOf(CheckOutcome)]
    notes: Text = Field(default="", max_length=10_000)

    def command(self, at: datetime) -> Command:
        return ValidateProposal(at=at, outcome=CheckOutcome(self.outcome), notes=self.notes)


class RevisionRequestIn(_Body):
    reasons: list[Annotated[Text, Field(min_length=1, max_length=2_000)]] = Field(min_length=1, max_length=50)
    notes: Text = Field(default="", max_length=10_000)

    def command(self, at: datetime) -> Command:
        return RequestRevision(at=at, reasons=tuple(self.reasons), notes=self.notes)


class NationalRegistrationIn(_Body):
    sinovik_reference: Text = Field(min_length=1, max_length=200)

    def command(self, at: datetime) -> Command:
        return RegisterNationally(at=at, sinovik_reference=self.sinovik_reference)


class SelectionIn(_Body):
    stage: Annotated[str, OneOf(Stage)]
    outcome: Annotated[str, OneOf(SelectionOutcome)]
    notes: Text = Field(default="", max_length=10_000)

    def command(self, at: datetime) -> Command:
        stage, outcome = Stage(self.stage), SelectionOutcome(self.outcome)
        return RecordSelection(at=at, stage=stage, outcome=outcome, notes=self.notes)


def not_found(proposal_id: UUID) -> Problem:
    return Problem(404, "Proposal not found", f"no proposal {proposal_id}")


def parse_if_match(header: str | None) -> int | None:
    if header is None or header.strip() == "*":
        return None
    tag = header.strip().removeprefix("W/").strip('"')
    if not (tag.isascii() and tag.isdigit() and len(tag) <= 9):
        raise Problem(400, "Bad If-Match", 'If-Match must be an ETag of this API, such as "3"')
    return int(tag)


@router.get("", **answers(ProposalPage, KEYED, INVALID_REQUEST, INVALID_CURSOR))
async def list_proposals(
    pool: Pool,
    _: Reader,
    master: MasterKeyFile,
    status: Status | None = None,
    agency: Annotated[Text | None, Query(max_length=300)] = None,
    regency: Annotated[Text | None, Query(max_length=200)] = None,
    round: Annotated[int | None, Query(ge=1900, le=9999)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    where = ListFilter(status.value if status else None, agency, regency, round)
    try:
        after = decode_cursor(cursor) if cursor else None
    except ValueError:
        raise invalid_cursor() from None
    items, next_cursor = await list_views(pool, where, limit, after, master)
    return {"items": items, "next_cursor": next_cursor}


@router.get(
    "/{proposal_id}",
    **answers(ProposalView, KEYED, INVALID_REQUEST, PROPOSAL_NOT_FOUND, headers=VIEW_HEADERS),
)
async def get_proposal(
    pool: Pool,
    service: Service,
    projector: Projector,
    master: MasterKeyFile,
    key: PresentedKey,
    proposal_id: UUID,
    as_of: Annotated[
        UtcTime | None,
        Query(description="RFC 3339 time: the proposal as it stood then, from its events"),
    ] = None,
) -> Response:
    if as_of is None and not projector.lags_behind(proposal_id):  # the hot path: one query
        caller, view = await get_view_as(pool, key, proposal_id, master)
        allowed(caller, READERS)
        if view is None:
            raise not_found(proposal_id)
        return Response(view.content, media_type="application/json", headers={"ETag": f'"{view.version}"'})
    allowed(await authenticate(pool, key), READERS)
    if as_of is not None:
        then = await service.load(proposal_id, until=as_of)
        if then.state is NOT_SUBMITTED:
            raise Problem(
                404, "Proposal not found", f"no proposal {proposal_id} existed at {as_of.isoformat()}"
            )
        shown = await shown_folded(
            pool, master, proposal_view(proposal_id, then.state, then.version), then.history
        )
        return JSONResponse({**shown, "as_of": as_of.isoformat()})
    return await _from_stream(service, pool, master, proposal_id)  # a decision not projected yet


@router.get("/{proposal_id}/history", **answers(History, KEYED, INVALID_REQUEST, PROPOSAL_NOT_FOUND))
async def get_history(store: Store, _: Reader, proposal_id: UUID) -> dict[str, Any]:
    history = await store.read_stream(proposal_id)
    if not history:
        raise not_found(proposal_id)
    return {"proposal_id": str(proposal_id), "events": [event_view(event) for event in history]}


IfMatch = Annotated[
    str | None,
    Header(
        description='The ETag the decision was made on, e.g. "3" (412 if stale; 400 if not an ETag)',
        json_schema_extra={"pattern": r'^(\*|(W/)?"?[0-9]{1,9}"?)$'},
    ),
]


class Decision:
    """What every decision route is given: the proposal, the reviewer deciding, the version they decided on
    (If-Match), and what recording the decision and answering it take."""

    def __init__(
        self,
        service: Service,
        projector: Projector,
        pool: Pool,
        master: MasterKeyFile,
        wait: DecisionWait,
        caller: Reviewer,
        proposal_id: UUID,
        if_match: IfMatch = None,
    ) -> None:
        self.service, self.projector, self.pool, self.master, self.wait = (
            service,
            projector,
            pool,
            master,
            wait,
        )
        self.caller, self.proposal_id, self.if_match = caller, proposal_id, if_match

    async def record(self, command: Callable[[datetime], Command]) -> JSONResponse:
        metadata = decision_metadata(self.caller, "review-api")
        try:
            result = await self.service.decide(
                self.proposal_id, command, metadata, parse_if_match(self.if_match)
            )
        except ProposalNotFound:
            raise not_found(self.proposal_id) from None
        except StaleVersion as stale:
            raise Problem(
                412,
                "Stale version",
                str(stale),
                current_version=stale.actual,
                expected_version=stale.expected,
            ) from None
        except TransitionRefused as refused:
            raise move_not_allowed(refused) from None
        except ConcurrencyError as race:
            raise Problem(
                409,
                "Changed concurrently",
                f"another decision was recorded first: {race}",
                current_version=race.actual,
            ) from None
        # Read-your-writes: answer only once the projection that GET reads includes this decision. If the
        # projection is slow to get there, the answer is folded from the stream itself (the decision is
        # recorded either way), and the answer says the list may lag.
        projected = await self.projector.wait_for(result.last_position, self.wait)
        view = await get_view(self.pool, self.proposal_id, self.master) if projected else None
        if view is None or view["version"] < result.stream_version:
            self.projector.answered_ahead(self.proposal_id, result.last_position)
            return await _from_stream(self.service, self.pool, self.master, self.proposal_id)
        return JSONResponse(view, headers={"ETag": f'"{view["version"]}"'})


Deciding = Annotated[Decision, Depends()]


@router.post("/{proposal_id}/verification", **DECISION)
async def verify(decision: Deciding, body: VerificationIn) -> JSONResponse:
    return await decision.record(body.command)


@router.post("/{proposal_id}/validation", **DECISION)
async def validate(decision: Deciding, body: ValidationIn) -> JSONResponse:
    return await decision.record(body.command)


@router.post("/{proposal_id}/revision-request", **DECISION)
async def request_revision(decision: Deciding, body: RevisionRequestIn) -> JSONResponse:
    return await decision.record(body.command)


@router.post("/{proposal_id}/national-registration", **DECISION)
async def register_nationally(decision: Deciding, body: NationalRegistrationIn) -> JSONResponse:
    return await decision.record(body.command)


@router.post("/{proposal_id}/selection", **DECISION)
async def record_selection(decision: Deciding, body: SelectionIn) -> JSONResponse:
    return await decision.record(body.command)


def decision_metadata(caller: Caller, source: str) -> dict[str, Any]:
    """What a reviewer's decision records beside it: the key's holder as the actor (never a body field),
    the request's correlation id, and where it was made (the API or the console)."""
    return {
        "actor": caller.as_actor().model_dump(mode="json"),
        "correlation_id": correlation_id.get() or str(uuid.uuid4()),  # set by RequestObservation
        "causation_id": None,
        "source": source,
    }


async def _from_stream(
    service: ReviewService, pool: asyncpg.Pool, master: MasterKey, proposal_id: UUID
) -> JSONResponse:
    folded = await service.load(proposal_id)
    if folded.state is NOT_SUBMITTED:
        raise not_found(proposal_id)
    view = await shown_folded(
        pool, master, proposal_view(proposal_id, folded.state, folded.version), folded.history
    )
    warning = '199 - "the status list has not caught up with this proposal yet"'
    return JSONResponse(view, headers={"ETag": f'"{view["version"]}"', "Warning": warning})
