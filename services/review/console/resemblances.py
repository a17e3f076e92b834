"""The resemblance panel's source. Review has no resemblance projection yet: until it has, the panel is
not shown at all rather than shown empty or filled with anything made up. The panel's template
(`templates/_resemblances.html`) renders items shaped as `GET /v1/proposals/{id}/resemblances` answers
them (proposal_id, title, agency, region, round, relation, score, sections, declared_replication, passages
of {section, text, other_text}), earlier and later proposals side by side."""

from typing import Any
from uuid import UUID

from services.review.api.deps import ReviewContext


async def resemblances_for(context: ReviewContext, proposal_id: UUID) -> list[dict[str, Any]] | None:
    """The proposal's resemblances, highest score first; None while the ledger does not compute them."""
    return None
