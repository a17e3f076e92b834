"""Resemblance across regions, for reviewers and auditors: the earlier and later proposals a proposal
resembles, with the evidence, and the pairs across the ledger. A flag is evidence for a reviewer to read,
not a verdict."""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from services.review.api.deps import Pool
from services.review.resemblance.queries import (
    decode_cursor,
    list_resemblances,
    proposal_known,
    resemblances_of,
)
from shared.access.http import Reader
from shared.http import Problem, invalid_cursor
from shared.openapi import answers
from shared.problems import INVALID_CURSOR, INVALID_REQUEST, KEYED, PROPOSAL_NOT_FOUND
from shared.proposal import Agency, Region

router = APIRouter(tags=["resemblances"])


class PassageOut(BaseModel):
    section: str = Field(description="The section of this proposal the sentence is in (or `title`)")
    text: str = Field(description="This proposal's sentence, as written")
    other_section: str = Field(description="The section of the other proposal its match is in")
    other_text: str = Field(description="The other proposal's sentence that matches it, as written")


class ResemblanceOut(BaseModel):
    """Another proposal this one resembles, as its text was when they were compared."""

    proposal_id: UUID
    title: str
    agency: Agency
    region: Region
    round: int | None
    recorded_at: datetime = Field(description="When the other proposal's compared text was recorded")
    position: int = Field(ge=1, description="The position of that text's event in the log")
    relation: Literal["earlier", "later"] = Field(description="Whether the other text came before this one")
    score: float = Field(ge=0, le=1, description="The larger share of either text found in the other")
    sections: dict[str, float] = Field(
        description="Per section of this proposal: the share found in the other"
    )
    declared_replication: bool = Field(description="The later proposal's `replicates` names the earlier one")
    passages: list[PassageOut] = Field(description="Matching sentences, side by side")


class Resemblances(BaseModel):
    items: list[ResemblanceOut] = Field(description="Highest score first")


class ResemblanceSide(BaseModel):
    proposal_id: UUID
    title: str
    agency: Agency
    region: Region
    round: int | None
    recorded_at: datetime
    position: int = Field(ge=1)


class ResemblancePair(BaseModel):
    later: ResemblanceSide
    earlier: ResemblanceSide
    score: float = Field(ge=0, le=1)
    declared_replication: bool


class ResemblancePage(BaseModel):
    """Pairs, the newest later text first."""

    items: list[ResemblancePair]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last")


@router.get(
    "/v1/proposals/{proposal_id}/resemblances",
    **answers(Resemblances, KEYED, INVALID_REQUEST, PROPOSAL_NOT_FOUND),
)
async def get_resemblances(pool: Pool, _: Reader, proposal_id: UUID) -> dict[str, Any]:
    items = await resemblances_of(pool, proposal_id)
    if not items and not await proposal_known(pool, proposal_id):
        raise Problem(404, "Proposal not found", f"no proposal {proposal_id}")
    return {"items": items}


@router.get("/v1/resemblances", **answers(ResemblancePage, KEYED, INVALID_REQUEST, INVALID_CURSOR))
async def list_pairs(
    pool: Pool,
    _: Reader,
    min_score: Annotated[float, Query(ge=0, le=1)] = 0.0,
    round: Annotated[int | None, Query(ge=1900, le=9999, description="The later proposal's round")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    try:
        after = decode_cursor(cursor) if cursor else None
    except ValueError:
        raise invalid_cursor() from None
    items, next_cursor = await list_resemblances(pool, min_score, round, limit, after)
    return {"items": items, "next_cursor": next_cursor}
