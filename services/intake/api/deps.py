"""What route handlers receive: the service's collaborators, built once in the lifespan, each route
asking only for those it uses."""

from dataclasses import dataclass
from typing import Annotated

import asyncpg
from fastapi import Depends, Request
from faststream.rabbit import RabbitBroker

from services.intake.application import IntakeService
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
    service: IntakeService


def _context(request: Request) -> IntakeContext:
    context: IntakeContext = request.app.state.context
    return context


async def _pool(request: Request) -> asyncpg.Pool:
    return _context(request).pool


async def _service(request: Request) -> IntakeService:
    return _context(request).service


Pool = Annotated[asyncpg.Pool, Depends(_pool)]
"""The database, for the submitters' reads of their own proposals."""

Service = Annotated[IntakeService, Depends(_service)]
"""Intake's use cases: submit, revise, withdraw."""
