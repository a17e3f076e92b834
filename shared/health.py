"""/healthz (the process answers) and /readyz (its database and broker answer), for both services."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Literal

import asyncpg
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from faststream.rabbit import RabbitBroker
from pydantic import BaseModel, ConfigDict

CHECK_TIMEOUT = 2.0


async def database_answers(pool: asyncpg.Pool) -> bool:
    try:
        return bool(await asyncio.wait_for(pool.fetchval("SELECT 1"), CHECK_TIMEOUT) == 1)
    except Exception:
        return False


async def broker_answers(broker: RabbitBroker) -> bool:
    try:
        return await broker.ping(timeout=CHECK_TIMEOUT)
    except Exception:
        return False


class Liveness(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    """`status`, then each dependency by name (database, broker): "ok" or "unreachable"."""

    model_config = ConfigDict(
        extra="allow", json_schema_extra={"additionalProperties": {"enum": ["ok", "unreachable"]}}
    )

    status: Literal["ready", "not ready"]


def health_router(checks: Callable[[], dict[str, Callable[[], Awaitable[bool]]]]) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", response_model=Liveness)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        response_model=None,
        responses={
            200: {"model": Readiness, "description": "The database and the broker answer"},
            503: {"model": Readiness, "description": "The database or the broker does not answer"},
        },
    )
    async def readyz() -> JSONResponse:
        named = checks()
        results = await asyncio.gather(*(check() for check in named.values()))
        answers = {name: "ok" if ok else "unreachable" for name, ok in zip(named, results, strict=True)}
        ready = all(results)
        return JSONResponse({"status": "ready" if ready else "not ready", **answers}, 200 if ready else 503)

    return router
