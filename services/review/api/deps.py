"""What route handlers receive: the service's collaborators, built once in the lifespan."""

from dataclasses import dataclass
from typing import Annotated

import asyncpg
from fastapi import Depends, Request
from faststream.rabbit import RabbitBroker

from services.review.application import ReviewService
from services.review.audit import DigestSigner
from services.review.projection import StatusProjector
from services.review.settings import ReviewSettings
from shared.broker import QueueDepths


@dataclass
class ReviewContext:
    settings: ReviewSettings
    pool: asyncpg.Pool
    service: ReviewService
    projector: StatusProjector
    broker: RabbitBroker
    signer: DigestSigner
    queue_depths: QueueDepths


async def _context(request: Request) -> ReviewContext:
    context: ReviewContext = request.app.state.context
    return context


Context = Annotated[ReviewContext, Depends(_context)]
