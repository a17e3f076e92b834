"""What both services' FastAPI applications have in common: the body limit, request observation, problem
responses, and the operations routes (/metrics, /asyncapi, /healthz, /readyz)."""

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI

from shared.access.http import KeyBeforeBody
from shared.docs import asyncapi_router
from shared.health import broker_answers, database_answers, health_router
from shared.http import BodySizeLimit, install_problem_handlers
from shared.observability import RequestObservation, metrics_router
from shared.openapi import install_openapi


def new_service_app(
    service: str, version: str, lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]]
) -> FastAPI:
    """The application; its lifespan sets `app.state.context`, which has at least `pool` and `broker`."""
    app = FastAPI(title=f"KIPP {service}", version=version, lifespan=lifespan)
    app.add_middleware(BodySizeLimit)
    app.add_middleware(KeyBeforeBody)
    app.add_middleware(RequestObservation, service=service)
    install_problem_handlers(app)
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


def serve_metrics(app: FastAPI, refresh: Callable[[], Awaitable[None]]) -> None:
    app.include_router(metrics_router(refresh))
