"""Intake's use cases: submit, revise and withdraw a proposal, and take review's word for its status.

The entrypoints (the HTTP routes, the follower of review's messages) translate what arrives into one of
the commands below and hand it to `IntakeService`, which decides against the repository it is given:
PostgreSQL in the service (services/intake/repository.py), an in-memory one in the unit tests. Nothing
here speaks HTTP or AMQP: a refusal is an exception, which the routes answer as a problem.
"""

import logging
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from services.intake.metrics import ACCEPTED
from shared.access import Caller
from shared.contract import PROPOSAL_REVISED, PROPOSAL_SUBMITTED, PROPOSAL_WITHDRAWN, Envelope, new_envelope
from shared.lifecycle import ALLOWED_MOVES, Status, TransitionRefused
from shared.personal_data.fields import DataKey, encrypt_proposal
from shared.proposal import ProposalBody
from shared.rounds import RoundBook
from shared.rules import Violation, check_proposal, check_revision
from shared.times import day_in_wib

log = logging.getLogger(__name__)

SOURCE = "intake-api"  # the source every event intake accepts is recorded with
# An erasure between finding a person's key and recording what it encrypted makes a use case run again;
# one racing erasure after another is all but impossible, and is answered 503 (nothing acknowledged).
ERASURE_RACE_ATTEMPTS = 3


# Commands: what a submitter asks of intake, and what review tells it. `now` is when it was asked.


@dataclass(frozen=True)
class SubmitProposal:
    submitter: Caller
    proposal: ProposalBody
    posted: dict[str, Any]  # the proposal exactly as posted: what is stored and published
    now: datetime
    correlation_id: str


@dataclass(frozen=True)
class ReviseProposal:
    submitter: Caller
    proposal_id: UUID
    proposal: ProposalBody
    posted: dict[str, Any]
    now: datetime
    correlation_id: str


@dataclass(frozen=True)
class WithdrawProposal:
    submitter: Caller
    proposal_id: UUID
    reason: str
    now: datetime
    correlation_id: str


@dataclass(frozen=True)
class ApplyStatusChange:
    """Review's status for a proposal, at a version of its stream, with the decision's details."""

    proposal_id: UUID
    status: Status
    version: int
    detail: dict[str, Any]
    at: datetime


@dataclass(frozen=True)
class Idempotency:
    """An Idempotency-Key sent with a request, and a digest of that request: the same key and request
    answer the first answer again; the same key with another request is refused."""

    key: str
    request_hash: bytes


# What the use cases answer, and how they refuse.


@dataclass(frozen=True)
class Accepted:
    """What a submitter is told of a change intake took (the proposal, its status now, and when), told
    again unchanged to a repeat of the request under the same Idempotency-Key."""

    body: dict[str, Any]

    @property
    def proposal_id(self) -> UUID:
        return UUID(self.body["proposal_id"])


class ProposalNotFound(Exception):
    """No such proposal of the caller's (another submitter's proposal is not found either)."""

    def __init__(self, proposal_id: UUID) -> None:
        self.proposal_id = proposal_id
        super().__init__(f"no proposal {proposal_id} of yours")


# The lifecycle's own refusal: intake refuses a move for the same reasons, in the same words, as review.
MoveRefused = TransitionRefused


class RulesBroken(Exception):
    """The proposal breaks its round's rules: each violation names its field and rule."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        super().__init__("; ".join(f"{v.field}: {v.message}" for v in violations))


class IdempotencyKeyReused(Exception):
    """The key was used before with a different request."""


class SubjectErased(Exception):
    """The person's data key was erased between finding it and recording the proposal it encrypted
    (`kipp personal-data erase` ran meanwhile): nothing was recorded. Run again, the use case finds no
    key and makes a fresh one."""


# What the use cases need of intake's tables.


@dataclass(frozen=True)
class OwnProposal:
    """A submitter's proposal as a revision or withdrawal needs it, locked until the transaction ends."""

    proposal_id: UUID
    status: Status
    round: int
    intake_events: int  # how many events intake accepted for it so far
    withdrawn: bool  # nothing follows a withdrawal, whatever intake has heard from review since


@dataclass(frozen=True)
class KeyUse:
    """An Idempotency-Key's earlier use: the request it came with, and what that was answered."""

    request_hash: bytes
    answer: Accepted


@dataclass(frozen=True)
class Posted:
    """A proposal as posted (intake's own copy, in plain text) and whose data key its event carries."""

    proposal: dict[str, Any]
    subject_id: UUID


class IntakeSession(Protocol):
    """Intake's tables on one connection. Each `record_*` writes the change and its event in the outbox
    at once or within the caller's transaction; nothing else writes the outbox."""

    def transaction(self) -> AbstractAsyncContextManager[None]:
        """All or nothing; nested inside another, it is undone alone when it fails."""
        ...

    async def claim_idempotency_key(self, owner: UUID, key: str, request_hash: bytes) -> KeyUse | None:
        """None when this is the key's first use (the caller saves its answer in the same transaction);
        its earlier use otherwise. Of two racing first uses, the second waits for the first to end."""
        ...

    async def save_answer(self, owner: UUID, key: str, answer: Accepted) -> None: ...

    async def data_key(self, email: str) -> DataKey:
        """The data key of the person with this address, made when they have none."""
        ...

    async def record_submission(self, envelope: Envelope, owner: UUID, posted: Posted) -> None:
        """`envelope` carries the innovator's fields encrypted; intake's own copy is `posted`."""
        ...

    async def lock_own_proposal(self, proposal_id: UUID, owner: UUID) -> OwnProposal | None: ...

    async def record_revision(self, envelope: Envelope, posted: Posted) -> None: ...

    async def record_withdrawal(self, envelope: Envelope) -> None: ...


class IntakeRepository(Protocol):
    def session(self) -> AbstractAsyncContextManager[IntakeSession]: ...

    async def apply_status_change(self, change: ApplyStatusChange) -> bool:
        """Sets the status unless a later review version is already known; True if it did. Not in a
        session: the follower's changes are written together (see services/intake/status_updates.py)."""
        ...


UseCase = Callable[[IntakeSession], Awaitable[Accepted]]


class IntakeService:
    def __init__(
        self,
        repository: IntakeRepository,
        rounds: RoundBook,
        on_accepted: Callable[[], None] = lambda: None,
    ) -> None:
        """`on_accepted` is called once a change and its event are committed (the outbox relay is woken)."""
        self.repository = repository
        self.rounds = rounds
        self.on_accepted = on_accepted

    async def submit(self, command: SubmitProposal, once: Idempotency | None = None) -> Accepted:
        self._check_rules(command.proposal, command.now)

        async def submit(session: IntakeSession) -> Accepted:
            # Atomic without a transaction: the submission is one statement, and the person's key, made
            # before it when new, is harmless alone (a key with no data; erasable like any other).
            envelope = new_envelope(
                PROPOSAL_SUBMITTED,
                uuid.uuid4(),
                command.now,
                command.posted,
                sequence=1,
                actor=command.submitter.as_actor(),
                source=SOURCE,
                correlation_id=command.correlation_id,
            )
            key = await session.data_key(command.proposal.innovator.email)
            sealed, posted = _encrypted(envelope, key)
            await session.record_submission(sealed, command.submitter.holder_id, posted)
            return _accepted(envelope, Status.SUBMITTED, "submitted_at")

        return await self._once(command.submitter, once, PROPOSAL_SUBMITTED, submit)

    async def revise(self, command: ReviseProposal, once: Idempotency | None = None) -> Accepted:
        self._check_rules(command.proposal, command.now)

        async def revise(session: IntakeSession) -> Accepted:
            async with session.transaction():
                current = await _lock_own(session, command.proposal_id, command.submitter, Status.SUBMITTED)
                if current.status != Status.REVISION_REQUESTED:
                    raise MoveRefused(current.status, Status.SUBMITTED)
                if broken := check_revision(current.round, command.proposal):
                    raise RulesBroken(broken)
                envelope = _next_event(current, PROPOSAL_REVISED, command.posted, command)
                key = await session.data_key(command.proposal.innovator.email)
                envelope, posted = _encrypted(envelope, key)
                await session.record_revision(envelope, posted)
            return _accepted(envelope, Status.SUBMITTED, "revised_at")

        return await self._once(command.submitter, once, PROPOSAL_REVISED, revise)

    async def withdraw(self, command: WithdrawProposal, once: Idempotency | None = None) -> Accepted:
        async def withdraw(session: IntakeSession) -> Accepted:
            async with session.transaction():
                current = await _lock_own(session, command.proposal_id, command.submitter, Status.WITHDRAWN)
                if Status.WITHDRAWN not in ALLOWED_MOVES[current.status]:
                    raise MoveRefused(current.status, Status.WITHDRAWN)
                data = {"reason": command.reason}
                envelope = _next_event(current, PROPOSAL_WITHDRAWN, data, command)
                await session.record_withdrawal(envelope)
            return _accepted(envelope, Status.WITHDRAWN, "withdrawn_at")

        return await self._once(command.submitter, once, PROPOSAL_WITHDRAWN, withdraw)

    async def apply_status_change(self, change: ApplyStatusChange) -> bool:
        """Takes review's word for the status, unless intake already knows a later one (a late or repeated
        message carries an older review version). True if applied."""
        return await self.repository.apply_status_change(change)

    def _check_rules(self, proposal: ProposalBody, now: datetime) -> None:
        """The round's rules on the day it is `now` in WIB (a round closes at the end of its last day
        there)."""
        if broken := check_proposal(proposal, self.rounds, day_in_wib(now)):
            raise RulesBroken(broken)

    async def _once(
        self, submitter: Caller, once: Idempotency | None, event_type: str, use_case: UseCase
    ) -> Accepted:
        """Idempotency around a use case. `use_case` is atomic (one statement, or its own transaction);
        with an Idempotency-Key it runs in one transaction with the key's record, at most once per key
        and request, and a repeat of the request is answered what the first was."""
        owner = submitter.holder_id
        attempt = 1
        while True:
            try:
                answer, repeated = await self._attempt(owner, once, use_case)
                break
            except SubjectErased:
                # Nothing was recorded (the statement failed, or the transaction rolled back with it).
                if attempt == ERASURE_RACE_ATTEMPTS:
                    raise
                attempt += 1
        if repeated:
            return answer
        self.on_accepted()
        ACCEPTED.labels(event_type).inc()
        log.info(
            "accepted %s", event_type, extra={"proposal_id": str(answer.proposal_id), "holder": str(owner)}
        )
        return answer

    async def _attempt(
        self, owner: UUID, once: Idempotency | None, use_case: UseCase
    ) -> tuple[Accepted, bool]:
        """The use case's answer, and whether it is the answer to an earlier request with the key."""
        async with self.repository.session() as session:
            if once is None:
                return await use_case(session), False  # no transaction round trips to pay around it
            async with session.transaction():
                earlier = await session.claim_idempotency_key(owner, once.key, once.request_hash)
                if earlier is not None:
                    if earlier.request_hash != once.request_hash:
                        raise IdempotencyKeyReused()
                    return earlier.answer, True
                answer = await use_case(session)
                await session.save_answer(owner, once.key, answer)
                return answer, False


async def _lock_own(
    session: IntakeSession, proposal_id: UUID, submitter: Caller, attempted: Status
) -> OwnProposal:
    """The submitter's proposal, locked for this transaction; not found if it is not theirs, refused once
    withdrawn."""
    current = await session.lock_own_proposal(proposal_id, submitter.holder_id)
    if current is None:
        raise ProposalNotFound(proposal_id)
    if current.withdrawn:
        raise MoveRefused(Status.WITHDRAWN, attempted)
    return current


def _next_event(
    current: OwnProposal, event_type: str, data: dict[str, Any], command: ReviseProposal | WithdrawProposal
) -> Envelope:
    """The proposal's next intake event, numbered after the ones intake already accepted for it."""
    return new_envelope(
        event_type,
        current.proposal_id,
        command.now,
        data,
        sequence=current.intake_events + 1,
        actor=command.submitter.as_actor(),
        source=SOURCE,
        correlation_id=command.correlation_id,
    )


def _encrypted(envelope: Envelope, key: DataKey) -> tuple[Envelope, Posted]:
    """The event as it leaves intake, the innovator's fields encrypted with the person's key and bound to
    the event's id; and the proposal as posted, which intake keeps for the submitter."""
    data = encrypt_proposal(envelope.data, envelope.event_id, key)
    return envelope.model_copy(update={"data": data}), Posted(envelope.data, key.subject_id)


def _accepted(envelope: Envelope, status: Status, at: str) -> Accepted:
    return Accepted(
        {
            "proposal_id": str(envelope.proposal_id),
            "status": status.value,
            at: envelope.occurred_at.isoformat(),
        }
    )
