"""What route handlers receive: the service's collaborators, built once in the lifespan."""

from dataclasses import dataclass
from typing import Annotated

import asyncpg
from fastapi import Depends, Request
from faststream.rabbit import RabbitBroker

from services.intake.relay import OutboxRelay
from services.intake.settings import IntakeSettings
from shared.broker import QueueDepths
from shared.rounds import RoundBook


@dataclass
class IntakeContext:
    settings: IntakeSettings
    pool: asyncpg.Pool
    broker: RabbitBroker
    relay: OutboxRelay
    rounds: RoundBook
    queue_depths: QueueDepths


async def _context(request: Request) -> IntakeContext:
    context: IntakeContext = request.app.state.context
    return context


Context = Annotated[IntakeContext, Depends(_context)]
