"""The review service's composition root: `create_app(settings)` wires every collaborator; nothing
connects at import time."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.review import metrics
from services.review.api import audit, events, hot_read, log, proposals, resemblances, stats
from services.review.api.deps import ReviewContext
from services.review.api.log import LogContext
from services.review.application import ReviewService
from services.review.audit import DigestSigner
from services.review.console import install_console
from services.review.consumer import attach_consumer
from services.review.eventstore.postgres import PostgresEventStore
from services.review.projection import StatusProjector
from services.review.resemblance.projection import ResemblanceFinder
from services.review.settings import ReviewSettings
from services.review.status_publisher import StatusChangePublisher
from services.review.tlog import RecentLeaves, TreeKeeper
from shared.broker import QueueDepths, declare_topology, document_publications, new_broker
from shared.contract import Topology
from shared.db import create_pool
from shared.personal_data.master_key import load_master_key
from shared.personal_data.vault import check_master_key
from shared.rounds import load_rounds
from shared.service import new_service_app, serve_metrics
from shared.signing import MessageSigner, MessageVerifier, load_private_key
from shared.startup import keep_trying
from shared.tlog.note import NoteSigner

VERSION = "0.1.0"


def create_app(settings: ReviewSettings | None = None) -> FastAPI:
    settings = settings or ReviewSettings()
    topology = Topology(settings.prefix)
    rounds = load_rounds(settings.rounds_dir)  # a bad round file stops start-up here, naming the file

    # Missing key files stop start-up here, naming the file (`kipp migrate` creates them).
    message_signer = MessageSigner.from_file(settings.review_signing_key_file)
    intake_signature = MessageVerifier.from_files("intake", settings.intake_public_key_file)
    log_signer = NoteSigner(settings.log_origin, load_private_key(settings.log_key_file))
    master = load_master_key(settings.master_key_file)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await keep_trying(
            "PostgreSQL",
            lambda: create_pool(settings.runtime_database_url, max_size=20, application_name="kipp-review"),
        )
        await check_master_key(pool, master, settings.master_key_file)
        projector = StatusProjector(pool)
        broker = new_broker(settings.amqp_url)
        publisher = StatusChangePublisher(pool, broker, topology, message_signer)
        # Each process wakes its own readers after its own appends; a reader that falls behind another
        # process's appends catches up on its next poll (or when it is asked to wait for a position).
        recent_leaves = RecentLeaves()  # the writer makes the tree's leaves as it commits
        keeper = TreeKeeper(
            pool, log_signer, settings.checkpoint_dir, settings.checkpoint_seconds, recent_leaves
        )
        finder = ResemblanceFinder(pool)
        store = PostgresEventStore(
            pool,
            on_append=(projector.poke, publisher.worker.poke, keeper.poke, finder.poke),
            on_commit=recent_leaves.remember,
        )
        await store.start()
        service = ReviewService(store, rounds)
        attach_consumer(broker, topology, service, settings.consumer_concurrency, intake_signature)
        document_publications(broker, topology, "review")
        await keep_trying("RabbitMQ", broker.connect)
        await declare_topology(broker, topology)
        await broker.start()
        projector.worker.start()
        publisher.worker.start()
        keeper.start()
        finder.worker.start()
        app.state.log = LogContext(log_signer, keeper, settings.checkpoint_dir)
        signer = DigestSigner.from_file(settings.audit_key_file, create=True)
        queue_depths = QueueDepths(settings.amqp_url)
        app.state.context = ReviewContext(
            settings, pool, service, projector, broker, signer, queue_depths, master
        )
        try:
            yield
        finally:
            await finder.worker.stop()
            await keeper.stop()
            await publisher.worker.stop()
            await broker.stop()  # stop taking messages, then let in-flight appends finish
            await projector.worker.stop()
            await store.stop()
            await queue_depths.close()
            await pool.close()

    app = new_service_app("review", VERSION, lifespan)
    hot_read.install(app)
    app.include_router(proposals.router)
    app.include_router(stats.router)
    app.include_router(events.router)
    app.include_router(audit.router)
    app.include_router(log.router)
    install_console(app)
    app.include_router(resemblances.router)
    serve_metrics(
        app, lambda: metrics.refresh(app.state.context.pool, app.state.context.queue_depths, topology)
    )
    return app
