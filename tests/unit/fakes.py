"""In-memory stand-ins for intake's tables: the repository the unit tests hand to `IntakeService`."""

import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from services.intake.application import Accepted, ApplyStatusChange, KeyUse, OwnProposal, Posted
from shared.contract import Envelope
from shared.lifecycle import Status
from shared.personal_data.fields import DataKey
from shared.personal_data.master_key import normalised_email


@dataclass
class StoredProposal:
    owner: UUID
    body: dict[str, Any]
    status: Status
    updated_at: datetime
    intake_events: int = 1
    withdrawn: bool = False
    review_version: int = 0
    status_detail: dict[str, Any] | None = None


@dataclass
class Tables:
    proposals: dict[UUID, StoredProposal] = field(default_factory=dict)
    outbox: list[Envelope] = field(default_factory=list)
    keys: dict[tuple[UUID, str], tuple[bytes, Accepted | None]] = field(default_factory=dict)
    data_keys: dict[str, DataKey] = field(default_factory=dict)  # by normalised e-mail address
    holdings: set[tuple[UUID, UUID]] = field(default_factory=set)  # (subject, proposal)


class FakeIntakeSession:
    def __init__(self, repository: "FakeIntakeRepository") -> None:
        self._repository = repository

    @property
    def _tables(self) -> Tables:
        return self._repository.tables

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """Undone, as a whole, when it fails: what was there before is put back."""
        before = copy.deepcopy(self._repository.tables)
        try:
            yield
        except BaseException:
            self._repository.tables = before
            raise

    async def claim_idempotency_key(self, owner: UUID, key: str, request_hash: bytes) -> KeyUse | None:
        stored = self._tables.keys.get((owner, key))
        if stored is None:
            self._tables.keys[(owner, key)] = (request_hash, None)
            return None
        earlier_hash, answer = stored
        assert answer is not None  # saved in the transaction that claimed it
        return KeyUse(earlier_hash, answer)

    async def save_answer(self, owner: UUID, key: str, answer: Accepted) -> None:
        request_hash, _ = self._tables.keys[(owner, key)]
        self._tables.keys[(owner, key)] = (request_hash, answer)

    async def data_key(self, email: str) -> DataKey:
        return self._tables.data_keys.setdefault(normalised_email(email), DataKey.generate(uuid4()))

    async def record_submission(self, envelope: Envelope, owner: UUID, posted: Posted) -> None:
        assert envelope.proposal_id not in self._tables.proposals
        self._tables.proposals[envelope.proposal_id] = StoredProposal(
            owner, copy.deepcopy(posted.proposal), Status.SUBMITTED, envelope.occurred_at
        )
        self._tables.holdings.add((posted.subject_id, envelope.proposal_id))
        self._tables.outbox.append(envelope)

    async def lock_own_proposal(self, proposal_id: UUID, owner: UUID) -> OwnProposal | None:
        found = self._tables.proposals.get(proposal_id)
        if found is None or found.owner != owner:
            return None
        return OwnProposal(
            proposal_id, found.status, found.body["round"], found.intake_events, found.withdrawn
        )

    async def record_revision(self, envelope: Envelope, posted: Posted) -> None:
        proposal = self._tables.proposals[envelope.proposal_id]
        proposal.body = copy.deepcopy(posted.proposal)
        self._tables.holdings.add((posted.subject_id, envelope.proposal_id))
        proposal.status, proposal.status_detail = Status.SUBMITTED, None
        self._moved(proposal, envelope)

    async def record_withdrawal(self, envelope: Envelope) -> None:
        proposal = self._tables.proposals[envelope.proposal_id]
        proposal.status, proposal.status_detail = Status.WITHDRAWN, dict(envelope.data)
        proposal.withdrawn = True
        self._moved(proposal, envelope)

    def _moved(self, proposal: StoredProposal, envelope: Envelope) -> None:
        assert envelope.metadata.sequence is not None
        proposal.updated_at, proposal.intake_events = envelope.occurred_at, envelope.metadata.sequence
        self._tables.outbox.append(envelope)

    async def apply_status_change(self, change: ApplyStatusChange) -> bool:
        if self._repository.failure is not None:
            raise self._repository.failure
        proposal = self._tables.proposals.get(change.proposal_id)
        if proposal is None or proposal.review_version >= change.version:
            return False
        proposal.status, proposal.review_version = change.status, change.version
        proposal.status_detail, proposal.updated_at = change.detail, change.at
        return True


class FakeIntakeRepository:
    """`IntakeRepository` in memory. `failure`, when set, is what the database raises on a status change."""

    def __init__(self) -> None:
        self.tables = Tables()
        self.failure: Exception | None = None

    @asynccontextmanager
    async def session(self) -> AsyncIterator[FakeIntakeSession]:
        yield FakeIntakeSession(self)

    async def apply_status_change(self, change: ApplyStatusChange) -> bool:
        return await FakeIntakeSession(self).apply_status_change(change)
