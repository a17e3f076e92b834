"""What route handlers receive: the service's collaborators, built once in the lifespan, each route
asking only for those it uses."""

from dataclasses import dataclass
from typing import Annotated

import asyncpg
from fastapi import Depends, Request
from faststream.rabbit import RabbitBroker

from services.review.application import ReviewService
from services.review.audit import DigestSigner
from services.review.eventstore.base import EventStore
from services.review.projection import StatusProjector
from services.review.settings import ReviewSettings
from shared.broker import QueueDepths
from shared.personal_data.master_key import MasterKey


@dataclass
class ReviewContext:
    settings: ReviewSettings
    pool: asyncpg.Pool
    service: ReviewService
    projector: StatusProjector
    broker: RabbitBroker
    signer: DigestSigner
    queue_depths: QueueDepths
    master_key: MasterKey


def _context(request: Request) -> ReviewContext:
    context: ReviewContext = request.app.state.context
    return context


async def _pool(request: Request) -> asyncpg.Pool:
    return _context(request).pool


async def _service(request: Request) -> ReviewService:
    return _context(request).service


async def _store(request: Request) -> EventStore:
    return _context(request).service.store


async def _projector(request: Request) -> StatusProjector:
    return _context(request).projector


async def _signer(request: Request) -> DigestSigner:
    return _context(request).signer


async def _master_key(request: Request) -> MasterKey:
    return _context(request).master_key


async def _decision_wait(request: Request) -> float:
    return _context(request).settings.decision_wait_seconds


Pool = Annotated[asyncpg.Pool, Depends(_pool)]
"""The database, for the status list and the projection's views."""

Service = Annotated[ReviewService, Depends(_service)]
"""Review's use cases: reviewers' decisions, a proposal folded from its events."""

Store = Annotated[EventStore, Depends(_store)]
"""The event store, for reading history as it was recorded."""

Projector = Annotated[StatusProjector, Depends(_projector)]
"""The status projection: how far it has got, and waiting for it."""

Signer = Annotated[DigestSigner, Depends(_signer)]
"""The key that signs auditors' digests of the history."""

MasterKeyFile = Annotated[MasterKey, Depends(_master_key)]
"""The master key: it unwraps the data keys that decrypt the innovator's fields for readers."""

DecisionWait = Annotated[float, Depends(_decision_wait)]
"""How long a decision's answer waits for the projection to include it, in seconds."""
