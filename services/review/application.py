"""Review's use cases: record intake's events and reviewers' decisions through decide/evolve and the store.

Intake's events arrive as the commands below (the consumer translates each verified message into one);
the service checks what they say of themselves and turns them into the lifecycle's commands."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar
from uuid import UUID

from services.review.domain import commands as domain
from services.review.domain.commands import Command
from services.review.domain.decider import NOT_SUBMITTED, State, decide, existing, fold
from services.review.domain.events import (
    ProposalRevised,
    ProposalSubmitted,
    ProposalWithdrawn,
    event_from_stored,
    event_to_data,
)
from services.review.eventstore.base import (
    AppendResult,
    ConcurrencyError,
    EventStore,
    NewEvent,
    RecordedEvent,
)
from shared.access import Role
from shared.contract import PROPOSAL_REVISED, PROPOSAL_SUBMITTED, PROPOSAL_WITHDRAWN, EnvelopeMetadata
from shared.proposal import EncryptedProposal, ProposalContent
from shared.rounds import RoundBook, shipped_rounds
from shared.rules import check_proposal
from shared.times import day_in_wib


class StaleVersion(Exception):
    """The caller decided on a version (If-Match) that is no longer current (HTTP 412)."""

    def __init__(self, expected: int, actual: int) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(f"the proposal is at version {actual}, not {expected}")


class UnprocessableMessage(Exception):
    """A message that no retry can make valid: it belongs in the dead-letter queue, with this reason."""


@dataclass(frozen=True)
class IntakeEvent:
    """One of intake's events, recorded under its own event id with intake's metadata: the actor, the
    correlation id, and its place among the proposal's intake events (`sequence`)."""

    event_type: ClassVar[str]

    event_id: UUID
    proposal_id: UUID
    occurred_at: datetime
    metadata: EnvelopeMetadata

    @property
    def sequence(self) -> int | None:
        return self.metadata.sequence


@dataclass(frozen=True)
class RecordSubmission(IntakeEvent):
    event_type = PROPOSAL_SUBMITTED

    proposal: EncryptedProposal
    data: dict[str, Any]  # the proposal exactly as intake published it (personal fields encrypted): recorded


@dataclass(frozen=True)
class RecordRevision(IntakeEvent):
    event_type = PROPOSAL_REVISED

    proposal: EncryptedProposal
    data: dict[str, Any]


@dataclass(frozen=True)
class RecordWithdrawal(IntakeEvent):
    event_type = PROPOSAL_WITHDRAWN

    reason: str


IntakeCommand = RecordSubmission | RecordRevision | RecordWithdrawal


# The stored events that come from intake (the rest are reviewers' decisions).
_INTAKE_EVENTS = {ProposalSubmitted.type, ProposalRevised.type, ProposalWithdrawn.type}


class EarlierEventMissing(Exception):
    """An intake event arrived before one intake published earlier for the same proposal: retry later."""


def _check_sequence(command: IntakeCommand, history: list[RecordedEvent]) -> None:
    """Intake numbers its events per proposal; they are recorded in that order, whatever order the
    broker's concurrent deliveries (or several review processes) hand them over in."""
    sequence = command.sequence or 1
    recorded = sum(1 for event in history if event.type in _INTAKE_EVENTS)
    if sequence > recorded + 1:
        raise EarlierEventMissing(f"intake event {sequence} came before event {recorded + 1} of the proposal")
    if sequence <= recorded:
        raise UnprocessableMessage(
            f"intake event {sequence} of this proposal was already recorded as another event"
        )


def _check_provenance(command: IntakeCommand) -> None:
    """What a signed message from intake must still say to be believed: its place among the proposal's
    intake events, and a submitter as the actor (only submitters submit, revise and withdraw)."""
    if command.sequence is None:
        raise UnprocessableMessage("no sequence: an intake event says which of the proposal's events it is")
    role = command.metadata.actor.role
    if role != Role.SUBMITTER:
        raise UnprocessableMessage(f"{command.event_type} by a {role.value}: only a submitter may send it")


@dataclass(frozen=True)
class Folded:
    state: State
    version: int
    history: list[RecordedEvent]


def fold_history(history: list[RecordedEvent]) -> Folded:
    state = fold(event_from_stored(event.type, event.schema_version, event.data) for event in history)
    return Folded(state, len(history), history)


class ReviewService:
    def __init__(
        self,
        store: EventStore,
        rounds: RoundBook | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.rounds = rounds or shipped_rounds()
        self.clock = clock

    async def load(self, proposal_id: UUID, until: datetime | None = None) -> Folded:
        return fold_history(await self.store.read_stream(proposal_id, until))

    async def decide(
        self,
        proposal_id: UUID,
        make_command: Callable[[datetime], Command],
        metadata: dict[str, Any],
        if_match: int | None = None,
    ) -> AppendResult:
        """A reviewer's decision. Appends at the version it decided on, so of two racing decisions one
        wins and the other gets ConcurrencyError instead of silently overwriting it."""
        current = await self.load(proposal_id)
        existing(current.state)
        if if_match is not None and if_match != current.version:
            raise StaleVersion(if_match, current.version)
        events = decide(make_command(self.clock()), current.state)
        new = [NewEvent(uuid.uuid4(), e.type, e.schema_version, event_to_data(e), metadata) for e in events]
        return await self.store.append(proposal_id, current.version, new)

    async def record_intake_event(self, command: IntakeCommand) -> AppendResult:
        """Records one of intake's events under its own event id, so a redelivery is recorded once (and
        answered `recorded=False`; for a submission its stream version is then not looked up either: -1)."""
        _check_provenance(command)
        decided = self._lifecycle_command(command)
        if isinstance(command, RecordSubmission) and command.sequence in (None, 1):
            # A submission starts its stream, so it is appended at version 0 without reading the stream
            # first: a redelivery is then answered as a duplicate event id by the store. Anything else
            # already in the stream is a conflict, and the general path below says what it means.
            try:
                return await self._append(command, decided, NOT_SUBMITTED, 0)
            except ConcurrencyError:
                pass
        current = await self.load(command.proposal_id)
        if any(event.event_id == command.event_id for event in current.history):
            return AppendResult(stream_version=current.version, last_position=-1, recorded=False)
        _check_sequence(command, current.history)
        return await self._append(command, decided, current.state, current.version)

    async def _append(
        self, command: IntakeCommand, decided: Command, state: State, version: int
    ) -> AppendResult:
        (event,) = decide(decided, state)
        metadata = {
            **command.metadata.model_dump(mode="json"),
            "occurred_at": command.occurred_at.isoformat(),
        }
        new = NewEvent(command.event_id, event.type, event.schema_version, event_to_data(event), metadata)
        return await self.store.append(command.proposal_id, version, [new])

    def _lifecycle_command(self, command: IntakeCommand) -> Command:
        at = command.occurred_at
        match command:
            case RecordSubmission(proposal=proposal, data=data):
                self._check_rules(proposal, at)
                return domain.RecordSubmission(at=at, proposal=data)
            case RecordRevision(proposal=proposal, data=data):
                self._check_rules(proposal, at)
                return domain.RecordRevision(at=at, proposal=data)
            case RecordWithdrawal(reason=reason):
                return domain.RecordWithdrawal(at=at, reason=reason)

    def _check_rules(self, proposal: ProposalContent, occurred_at: datetime) -> None:
        """Intake's proposal checked again against its round, on the day (in WIB) intake took it: an event
        that waited in the broker past the round's closing day is still recorded."""
        try:
            day = day_in_wib(occurred_at)
        except ValueError as error:
            raise UnprocessableMessage(f"occurred_at: {error}") from error
        if broken := check_proposal(proposal, self.rounds, day):
            raise UnprocessableMessage("; ".join(f"{v.field}: {v.message}" for v in broken))
