"""The intake service's composition root: `create_app(settings)` wires every collaborator; nothing
connects at import time."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.intake import metrics
from services.intake.api import proposals
from services.intake.api.deps import IntakeContext
from services.intake.application import IntakeService
from services.intake.follower import attach_follower
from services.intake.relay import OutboxRelay
from services.intake.repository import PostgresIntakeRepository
from services.intake.settings import IntakeSettings
from shared.broker import QueueDepths, declare_topology, document_publications, new_broker
from shared.contract import Topology
from shared.db import create_pool
from shared.personal_data.master_key import load_master_key
from shared.personal_data.vault import check_master_key
from shared.rounds import load_rounds
from shared.service import new_service_app, serve_metrics
from shared.signing import MessageSigner, MessageVerifier
from shared.startup import keep_trying

VERSION = "0.1.0"


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    topology = Topology(settings.prefix)
    rounds = load_rounds(settings.rounds_dir)  # a bad round file stops start-up here, naming the file

    # Missing key files stop start-up here, naming the file (`kipp migrate` creates them).
    signer = MessageSigner.from_file(settings.intake_signing_key_file)
    review_signature = MessageVerifier.from_files("review", settings.review_public_key_file)
    master = load_master_key(settings.master_key_file)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await keep_trying(
            "PostgreSQL",
            lambda: create_pool(settings.runtime_database_url, max_size=20, application_name="kipp-intake"),
        )
        await check_master_key(pool, master, settings.master_key_file)
        broker = new_broker(settings.amqp_url)
        relay = OutboxRelay(pool, broker, topology, signer)
        # What it accepts is in the outbox once committed: the relay is woken to publish it at once.
        repository = PostgresIntakeRepository(pool, master)
        service = IntakeService(repository, rounds, on_accepted=relay.worker.poke)
        attach_follower(broker, topology, service, review_signature)
        document_publications(broker, topology, "intake")
        await keep_trying("RabbitMQ", broker.connect)
        await declare_topology(broker, topology)
        await broker.start()
        relay.worker.start()
        queue_depths = QueueDepths(settings.amqp_url)
        app.state.context = IntakeContext(settings, pool, broker, relay, rounds, queue_depths, service)
        try:
            yield
        finally:
            await relay.worker.stop()
            await broker.stop()
            await queue_depths.close()
            await pool.close()

    app = new_service_app("intake", VERSION, lifespan)
    app.include_router(proposals.router)
    serve_metrics(
        app, lambda: metrics.refresh(app.state.context.pool, app.state.context.queue_depths, topology)
    )
    return app
