"""What both services' FastAPI applications have in common: the body limit, request observation, problem
responses, the documentation pages (/docs, /redoc, /asyncapi), and the operations routes (/metrics, /healthz,
/readyz)."""

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from typing import Any

import uvicorn
from fastapi import FastAPI

from shared.access.http import KeyBeforeBody
from shared.docs import asyncapi_router, docs_router
from shared.health import broker_answers, database_answers, health_router
from shared.http import BodySizeLimit, install_problem_handlers
from shared.observability import RequestObservation, configure_logging, metrics_router
from shared.openapi import install_openapi
from shared.personal_data.master_key import MasterKeyInvalid
from shared.rounds import RoundFileError
from shared.runtime import tune_garbage_collection
from shared.signing import KeyFileMissing


def new_service_app(
    service: str, version: str, lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]]
) -> FastAPI:
    """The application; its lifespan sets `app.state.context`, which has at least `pool` and `broker`."""
    # /docs and /redoc are docs_router's, which serves their JavaScript and CSS itself rather than from a CDN.
    # The services' metrics are Prometheus's (RequestObservation); FastAPI's own OpenTelemetry hooks, off,
    # no longer look up three global providers on every request (2.5 µs a request, none configured).
    app = FastAPI(
        title=f"KIPP {service}",
        version=version,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.add_middleware(BodySizeLimit)
    app.add_middleware(KeyBeforeBody)
    app.add_middleware(RequestObservation, service=service)
    install_problem_handlers(app)
    app.include_router(docs_router(app.title, app.openapi_url or "/openapi.json"))
    install_openapi(app)
    app.include_router(asyncapi_router(lambda: app.state.context.broker, f"KIPP {service} messages", version))
    app.include_router(
        health_router(
            lambda: {
                "database": lambda: database_answers(app.state.context.pool),
                "broker": lambda: broker_answers(app.state.context.broker),
            }
        )
    )
    return app


def serve(
    name: str,
    build: Callable[[], FastAPI],
    host: str,
    port: int,
    preflight: Callable[[], Coroutine[Any, Any, None]] | None = None,
) -> None:
    """`python -m services.<name>`: JSON logs, a calmer collector, and the application built and served
    once `preflight` (what must hold before serving) passes. What an operator must fix before it can start
    (a round file, a key file, a master key that is not the database's) is one line, not a traceback."""
    configure_logging(name)
    tune_garbage_collection()
    try:
        app = build()
        if preflight is not None:
            asyncio.run(preflight())
    except (RoundFileError, KeyFileMissing, MasterKeyInvalid) as error:
        raise SystemExit(f"{name}: {error}") from None
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)


def serve_metrics(app: FastAPI, refresh: Callable[[], Awaitable[None]]) -> None:
    app.include_router(metrics_router(refresh))
