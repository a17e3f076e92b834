"""The resemblance panel's source: the same projection and query as `GET /v1/proposals/{id}/resemblances`,
so the page and the API never disagree. The panel's template (`templates/_resemblances.html`) shows each
matching passage beside the other proposal's, earlier and later proposals alike."""

from typing import Any
from uuid import UUID

from services.review.api.deps import ReviewContext
from services.review.resemblance.queries import resemblances_of


async def resemblances_for(context: ReviewContext, proposal_id: UUID) -> list[dict[str, Any]]:
    """The proposal's resemblances, highest score first."""
    return await resemblances_of(context.pool, proposal_id)
