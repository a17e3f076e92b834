"""The message contract between intake and review: names on the broker, the envelope of every message,
and each message's payload by event type.

Both services import this module, so the exchange, queue and routing-key names are declared once, and so
is the shape of what every message says (its AsyncAPI document is generated from the models below).

Messages are built and stored as an `Envelope`, whose `data` is kept exactly as it was first encoded:
intake publishes the proposal as posted, the innovator's personal fields encrypted (shared/personal_data),
and every message is signed over its bytes. A
subscriber reads what it receives with `read_message`, which checks the envelope and its data against
the message model of its event type, and hands back both the typed message and the envelope as sent.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar, cast, get_args
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.json_schema import SkipJsonSchema

from shared.access import Actor
from shared.lifecycle import Status
from shared.proposal import EncryptedProposal, Text

PROPOSAL_SUBMITTED = "proposal.submitted"
PROPOSAL_REVISED = "proposal.revised"
PROPOSAL_WITHDRAWN = "proposal.withdrawn"
PROPOSAL_STATUS_CHANGED = "proposal.status_changed"

INTAKE_EVENT_TYPES = (PROPOSAL_SUBMITTED, PROPOSAL_REVISED, PROPOSAL_WITHDRAWN)


@dataclass(frozen=True)
class Topology:
    """Exchange and queue names, all under one prefix, and how long a message a consumer could not
    process yet waits on the broker before each next attempt (one retry queue per step)."""

    prefix: str = "kipp"
    retry_delays: tuple[float, ...] = (0.2, 1.0, 5.0)  # seconds; the last is repeated for ever

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
    def retry_exchange(self) -> str:
        return f"{self.prefix}.retry"

    @property
    def review_dead_letter_queue(self) -> str:
        return f"{self.prefix}.review.intake-events.dead"

    @property
    def intake_queue(self) -> str:
        return f"{self.prefix}.intake.review-events"

    @property
    def intake_dead_letter_queue(self) -> str:
        return f"{self.prefix}.intake.review-events.dead"

    def retry_queues(self, queue: str) -> list[str]:
        """Where a message of the consuming `queue` waits before its next attempt, one per step."""
        return [f"{queue}.retry.{step}" for step in range(1, len(self.retry_delays) + 1)]

    def all_exchanges(self) -> list[str]:
        return [self.intake_exchange, self.review_exchange, self.dead_letter_exchange, self.retry_exchange]

    def all_queues(self) -> list[str]:
        return [
            self.review_queue,
            self.review_dead_letter_queue,
            *self.retry_queues(self.review_queue),
            self.intake_queue,
            self.intake_dead_letter_queue,
            *self.retry_queues(self.intake_queue),
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


# What a selection decides, as review's lifecycle records it.
SelectionStage = Literal["top99", "top45", "winner"]
SelectionOutcome = Literal["selected", "not_selected"]


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def optional(description: str) -> Any:
    """A member present where it applies and absent (never null) otherwise."""
    return Field(default=None, description=description, json_schema_extra=_no_default)


class ProposalWithdrawal(BaseModel):
    """`data` of `proposal.withdrawn`."""

    reason: str = Field(description="Why the submitter withdrew the proposal, as they wrote it")


class DecisionDetails(BaseModel):
    """The details of a decision, each present only where the decision has it."""

    reasons: list[str] | SkipJsonSchema[None] = optional("Why a revision was requested")
    notes: str | SkipJsonSchema[None] = optional("The reviewer's notes on the decision")
    sinovik_reference: str | SkipJsonSchema[None] = optional("The national registration's reference")
    stage: SelectionStage | SkipJsonSchema[None] = optional("The selection stage decided")
    outcome: SelectionOutcome | SkipJsonSchema[None] = optional("The selection's outcome")
    reason: str | SkipJsonSchema[None] = optional("Why the submitter withdrew the proposal")


class StatusChange(DecisionDetails):
    """`data` of `proposal.status_changed`: the proposal's status after one event recorded by review, and
    the details of the decision that event records (each present only where that decision has it)."""

    # A detail this code does not know yet (a later review may add one) is kept, not refused: intake
    # stores the details as they came.
    model_config = ConfigDict(extra="allow")

    status: Status = Field(description="The proposal's status after the event")
    version: Annotated[int, Field(ge=1, le=MAX_INT32)] = Field(
        description="The event's version in the proposal's stream; a follower keeps the highest it saw"
    )
    position: Annotated[int, Field(ge=1, le=MAX_INT64)] = Field(
        description="The event's position in review's global order"
    )
    cause: Annotated[str, Field(max_length=100)] = Field(
        description="The type of the recorded event, such as ProposalVerified or RevisionRequested"
    )
    decided_at: datetime = Field(description="When the event happened (the decision's time)")


class ContractMessage(BaseModel):
    """What every message of the contract carries besides its event type and data (the envelope)."""

    model_config = ConfigDict(extra="forbid")

    # What the dead-letter reason says when `data` is not this message's payload.
    refused_data: ClassVar[str] = "data is not of its event type"

    event_id: UUID = Field(description="The event's id; also the AMQP message id")
    schema_version: int
    proposal_id: UUID
    occurred_at: datetime
    metadata: EnvelopeMetadata

    @classmethod
    def event_type_name(cls) -> str:
        """The one value the model's `event_type` takes."""
        (name,) = get_args(cls.model_fields["event_type"].annotation)
        return str(name)

    @classmethod
    def payload_model(cls) -> type[BaseModel]:
        """The model of the message's `data`."""
        payload = cls.model_fields["data"].annotation
        assert isinstance(payload, type)
        assert issubclass(payload, BaseModel)
        return payload


class ProposalSubmittedMessage(ContractMessage):
    """`proposal.submitted`, published by intake: a new proposal, `data` as the submitter posted it with
    the innovator's fields encrypted (intake's sequence 1 for the proposal)."""

    refused_data: ClassVar[str] = "data is not a valid proposal"

    event_type: Literal["proposal.submitted"]
    data: EncryptedProposal


class ProposalRevisedMessage(ContractMessage):
    """`proposal.revised`, published by intake: the proposal as the submitter posted it again (the
    innovator's fields encrypted), after review requested a revision."""

    refused_data: ClassVar[str] = "data is not a valid proposal"

    event_type: Literal["proposal.revised"]
    data: EncryptedProposal


class ProposalWithdrawnMessage(ContractMessage):
    """`proposal.withdrawn`, published by intake: the submitter withdrew the proposal."""

    refused_data: ClassVar[str] = "proposal.withdrawn needs data.reason, a string"

    event_type: Literal["proposal.withdrawn"]
    data: ProposalWithdrawal


class ProposalStatusChangedMessage(ContractMessage):
    """`proposal.status_changed`, published by review for every event it records: the status after it,
    the stream version and global position, and the decision's details."""

    refused_data: ClassVar[str] = "data is not a status change"

    event_type: Literal["proposal.status_changed"]
    data: StatusChange


FROM_INTAKE = (ProposalSubmittedMessage, ProposalRevisedMessage, ProposalWithdrawnMessage)
FROM_REVIEW = (ProposalStatusChangedMessage,)
MESSAGES: dict[str, type[ContractMessage]] = {
    kind.event_type_name(): kind for kind in (*FROM_INTAKE, *FROM_REVIEW)
}

M = TypeVar("M", bound=ContractMessage)


class UnreadableMessage(ValueError):
    """A body that is not a message of the contract this subscriber takes; the text says why."""


@dataclass(frozen=True)
class Received(Generic[M]):
    """A message read off the broker: typed by its event type, and the envelope exactly as it was sent
    (its `data` is what is stored: the proposal as posted, or the status change's members as published)."""

    message: M
    envelope: Envelope


def read_message(body: bytes, *kinds: type[M]) -> Received[M]:
    """Reads a message body (already verified as signed by its publisher) as one of `kinds`. Raises
    UnreadableMessage when it is not JSON, not the envelope, of another event type, or with data that is
    not that type's payload."""
    try:
        envelope = Envelope.model_validate_json(body)
    except ValidationError as error:
        raise UnreadableMessage(str(error)) from None
    kind = next((k for k in kinds if k.event_type_name() == envelope.event_type), None)
    if kind is None:
        if envelope.event_type not in MESSAGES:
            raise UnreadableMessage(f"unknown event type {envelope.event_type!r}")
        names = [k.event_type_name() for k in kinds]
        expected = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
        raise UnreadableMessage(f"{envelope.event_type!r} is not {expected}")
    try:
        data = kind.payload_model().model_validate(envelope.data)
    except ValidationError as error:
        raise UnreadableMessage(f"{kind.refused_data}: {error}") from None
    # The envelope's members are checked already: the typed message is put together, not checked again.
    fields = {name: getattr(envelope, name) for name in kind.model_fields if name != "data"}
    fields["data"] = data
    return Received(cast(M, kind.model_construct(**fields)), envelope)
