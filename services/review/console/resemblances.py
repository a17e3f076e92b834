"""The resemblance panel's source: the same projection and query as `GET /v1/proposals/{id}/resemblances`,
so the page and the API never disagree. The panel's template (`templates/_resemblances.html`) shows each
matching passage beside the other proposal's, earlier and later proposals alike.

A text copied across a whole round can resemble hundreds of others; a page of hundreds of passages side
by side is neither readable nor quick, so the panel shows the highest-scoring few and says how many more
there are, with a link to the page that shows them all."""

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from services.review.api.deps import ReviewContext
from services.review.resemblance.queries import resemblance_count, resemblances_of

SHOWN_FIRST = 10


@dataclass(frozen=True)
class Panel:
    shown: list[dict[str, Any]]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.shown)


async def resemblances_for(context: ReviewContext, proposal_id: UUID, every: bool = False) -> Panel:
    """The proposal's resemblances, highest score first: the first SHOWN_FIRST, or all of them."""
    shown = await resemblances_of(context.pool, proposal_id, None if every else SHOWN_FIRST)
    if every or len(shown) < SHOWN_FIRST:
        return Panel(shown, len(shown))
    return Panel(shown, await resemblance_count(context.pool, proposal_id))
