"""Review's use cases: record intake's events and reviewers' decisions through decide/evolve and the store."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from services.review.domain.commands import (
    Command,
    RecordRevision,
    RecordSubmission,
    RecordWithdrawal,
)
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
from shared.contract import PROPOSAL_REVISED, PROPOSAL_SUBMITTED, PROPOSAL_WITHDRAWN, Envelope
from shared.proposal import ProposalBody
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


# The stored events that come from intake (the rest are reviewers' decisions).
_INTAKE_EVENTS = {ProposalSubmitted.type, ProposalRevised.type, ProposalWithdrawn.type}


class EarlierEventMissing(Exception):
    """An intake event arrived before one intake published earlier for the same proposal: retry later."""


def _check_sequence(envelope: Envelope, history: list[RecordedEvent]) -> None:
    """Intake numbers its events per proposal; they are recorded in that order, whatever order the
    broker's concurrent deliveries (or several review processes) hand them over in."""
    sequence = envelope.metadata.sequence or 1
    recorded = sum(1 for event in history if event.type in _INTAKE_EVENTS)
    if sequence > recorded + 1:
        raise EarlierEventMissing(f"intake event {sequence} came before event {recorded + 1} of the proposal")
    if sequence <= recorded:
        raise UnprocessableMessage(
            f"intake event {sequence} of this proposal was already recorded as another event"
        )


def _check_provenance(envelope: Envelope) -> None:
    """What a signed message from intake must still say to be believed: its place among the proposal's
    intake events, and a submitter as the actor (only submitters submit, revise and withdraw)."""
    if envelope.metadata.sequence is None:
        raise UnprocessableMessage("no sequence: an intake event says which of the proposal's events it is")
    role = envelope.metadata.actor.role
    if role != Role.SUBMITTER:
        raise UnprocessableMessage(f"{envelope.event_type} by a {role.value}: only a submitter may send it")


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

    async def record_intake_event(self, envelope: Envelope) -> AppendResult:
        """Records one of intake's events under its own event id, so a redelivery is recorded once (and
        answered `recorded=False`; for a submission its stream version is then not looked up either: -1)."""
        _check_provenance(envelope)
        command = self._command_for(envelope)
        if envelope.event_type == PROPOSAL_SUBMITTED and envelope.metadata.sequence in (None, 1):
            # A submission starts its stream, so it is appended at version 0 without reading the stream
            # first: a redelivery is then answered as a duplicate event id by the store. Anything else
            # already in the stream is a conflict, and the general path below says what it means.
            try:
                return await self._append(envelope, command, NOT_SUBMITTED, 0)
            except ConcurrencyError:
                pass
        current = await self.load(envelope.proposal_id)
        if any(event.event_id == envelope.event_id for event in current.history):
            return AppendResult(stream_version=current.version, last_position=-1, recorded=False)
        _check_sequence(envelope, current.history)
        return await self._append(envelope, command, current.state, current.version)

    async def _append(self, envelope: Envelope, command: Command, state: State, version: int) -> AppendResult:
        (event,) = decide(command, state)
        metadata = {
            **envelope.metadata.model_dump(mode="json"),
            "occurred_at": envelope.occurred_at.isoformat(),
        }
        new = NewEvent(envelope.event_id, event.type, event.schema_version, event_to_data(event), metadata)
        return await self.store.append(envelope.proposal_id, version, [new])

    def _command_for(self, envelope: Envelope) -> Command:
        at = envelope.occurred_at
        if envelope.event_type in (PROPOSAL_SUBMITTED, PROPOSAL_REVISED):
            proposal = self._checked_proposal(envelope.data, at)
            if envelope.event_type == PROPOSAL_SUBMITTED:
                return RecordSubmission(at=at, proposal=proposal)
            return RecordRevision(at=at, proposal=proposal)
        if envelope.event_type == PROPOSAL_WITHDRAWN:
            reason = envelope.data.get("reason")
            if not isinstance(reason, str):
                raise UnprocessableMessage("proposal.withdrawn needs data.reason, a string")
            return RecordWithdrawal(at=at, reason=reason)
        raise UnprocessableMessage(f"unknown event type {envelope.event_type!r}")

    def _checked_proposal(self, data: dict[str, Any], occurred_at: datetime) -> dict[str, Any]:
        """Intake's proposal checked again against its round, on the day (in WIB) intake took it: an event
        that waited in the broker past the round's closing day is still recorded."""
        try:
            body = ProposalBody.model_validate(data)
            day = day_in_wib(occurred_at)
        except ValidationError as error:
            raise UnprocessableMessage(f"data is not a valid proposal: {error}") from error
        except ValueError as error:
            raise UnprocessableMessage(f"occurred_at: {error}") from error
        if broken := check_proposal(body, self.rounds, day):
            raise UnprocessableMessage("; ".join(f"{v.field}: {v.message}" for v in broken))
        return data
