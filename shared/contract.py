"""The message contract between intake and review: names on the broker and the envelope of every message.

Both services import this module, so the exchange, queue and routing-key names are declared once.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field

from shared.access import Actor
from shared.lifecycle import Status
from shared.proposal import Text

PROPOSAL_SUBMITTED = "proposal.submitted"
PROPOSAL_REVISED = "proposal.revised"
PROPOSAL_WITHDRAWN = "proposal.withdrawn"
PROPOSAL_STATUS_CHANGED = "proposal.status_changed"

INTAKE_EVENT_TYPES = (PROPOSAL_SUBMITTED, PROPOSAL_REVISED, PROPOSAL_WITHDRAWN)


@dataclass(frozen=True)
class Topology:
    """Exchange and queue names, all under one prefix."""

    prefix: str = "kipp"

    @property
    def intake_exchange(self) -> str:
        return f"{self.prefix}.intake"

    @property
    def review_exchange(self) -> str:
        return f"{self.prefix}.review"

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.prefix}.dead-letter"

    @property
    def review_queue(self) -> str:
        return f"{self.prefix}.review.intake-events"

    @property
    def review_dead_letter_queue(self) -> str:
        return f"{self.prefix}.review.intake-events.dead"

    @property
    def intake_queue(self) -> str:
        return f"{self.prefix}.intake.review-events"

    @property
    def intake_dead_letter_queue(self) -> str:
        return f"{self.prefix}.intake.review-events.dead"

    def all_exchanges(self) -> list[str]:
        return [self.intake_exchange, self.review_exchange, self.dead_letter_exchange]

    def all_queues(self) -> list[str]:
        return [
            self.review_queue,
            self.review_dead_letter_queue,
            self.intake_queue,
            self.intake_dead_letter_queue,
        ]


# A correlation id as the services take it from a request; anything else is replaced by a new one. It
# travels in AMQP's correlation_id property too, which holds at most 255 bytes.
CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
MAX_INT32 = 2**31 - 1  # what PostgreSQL's integer columns (versions, sequences) hold
MAX_INT64 = 2**63 - 1  # and its bigint columns (positions)


def valid_correlation_id(value: str | None) -> bool:
    return value is not None and CORRELATION_ID.fullmatch(value) is not None


class EnvelopeMetadata(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Any text up to a bound: events accepted before the services checked the header may carry more than
    # CORRELATION_ID allows. What goes into an AMQP property is checked where it is put there.
    correlation_id: Text = Field(min_length=1, max_length=1000)
    causation_id: Annotated[Text, Field(max_length=1000)] | None = None
    actor: Actor
    source: Annotated[Text, Field(min_length=1, max_length=64)]
    # For intake's events: this event's place among intake's events for the proposal (1 = the
    # submission). Review applies them in this order even when the broker hands them over concurrently;
    # an intake event without it is refused.
    sequence: Annotated[int, Field(ge=1, le=MAX_INT32)] | None = None


class Envelope(BaseModel):
    """The JSON body of every message on the broker."""

    model_config = ConfigDict(extra="forbid")

    event_id: UUID
    event_type: str
    schema_version: int
    proposal_id: UUID
    occurred_at: datetime
    data: dict[str, Any]
    metadata: EnvelopeMetadata


def new_envelope(
    event_type: str,
    proposal_id: UUID,
    occurred_at: datetime,
    data: dict[str, Any],
    *,
    actor: Actor,
    source: str,
    correlation_id: str,
    causation_id: str | None = None,
    sequence: int | None = None,
) -> Envelope:
    return Envelope(
        event_id=uuid4(),
        event_type=event_type,
        schema_version=1,
        proposal_id=proposal_id,
        occurred_at=occurred_at,
        data=data,
        metadata=EnvelopeMetadata(
            correlation_id=correlation_id,
            causation_id=causation_id,
            actor=actor,
            source=source,
            sequence=sequence,
        ),
    )


class StatusChange(BaseModel):
    """What `proposal.status_changed` says in `data`, besides the decision's details (reasons, notes,
    reference, stage, outcome) that follow as further members."""

    model_config = ConfigDict(extra="allow")

    status: Status
    version: Annotated[int, Field(ge=1, le=MAX_INT32)]
    position: Annotated[int, Field(ge=1, le=MAX_INT64)]
    cause: Annotated[str, Field(max_length=100)]
