"""Counts for the status board."""

from typing import Any

from fastapi import APIRouter

from services.review.api.deps import Pool
from services.review.queries import stats
from shared.access.http import Reader

router = APIRouter(prefix="/v1/stats", tags=["stats"])


@router.get("")
async def get_stats(pool: Pool, _: Reader) -> dict[str, Any]:
    return await stats(pool)
