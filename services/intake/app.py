"""The intake service's composition root: `create_app(settings)` wires every collaborator; nothing
connects at import time."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.intake.api import proposals
from services.intake.api.deps import IntakeContext
from services.intake.follower import attach_follower
from services.intake.relay import OutboxRelay
from services.intake.settings import IntakeSettings
from shared.broker import declare_topology, new_broker
from shared.contract import Topology
from shared.db import create_pool
from shared.health import broker_answers, database_answers, health_router
from shared.http import BodySizeLimit, install_problem_handlers
from shared.rounds import shipped_rounds
from shared.startup import keep_trying


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    topology = Topology(settings.prefix)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await keep_trying("PostgreSQL", lambda: create_pool(settings.database_url, max_size=20))
        broker = new_broker(settings.amqp_url)
        attach_follower(broker, topology, pool)
        await keep_trying("RabbitMQ", broker.connect)
        await declare_topology(broker, topology)
        await broker.start()
        relay = OutboxRelay(pool, broker, topology)
        relay.worker.start()
        app.state.context = IntakeContext(settings, pool, broker, relay, shipped_rounds())
        try:
            yield
        finally:
            await relay.worker.stop()
            await broker.stop()
            await pool.close()

    app = FastAPI(title="KIPP intake", version="0.1.0", lifespan=lifespan)
    app.add_middleware(BodySizeLimit)
    install_problem_handlers(app)
    app.include_router(proposals.router)
    app.include_router(
        health_router(
            lambda: {
                "database": lambda: database_answers(app.state.context.pool),
                "broker": lambda: broker_answers(app.state.context.broker),
            }
        )
    )
    return app
