"""Counts for the status board."""

from typing import Any

from fastapi import APIRouter

from services.review.api.deps import Pool
from services.review.api.models import Stats
from services.review.queries import stats
from shared.access.http import Reader
from shared.openapi import answers
from shared.problems import KEYED

router = APIRouter(prefix="/v1/stats", tags=["stats"])


@router.get("", **answers(Stats, KEYED))
async def get_stats(pool: Pool, _: Reader) -> dict[str, Any]:
    return await stats(pool)
