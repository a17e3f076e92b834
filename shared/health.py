"""/healthz (the process answers) and /readyz (its database and broker answer), for both services."""

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from faststream.rabbit import RabbitBroker

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


def health_router(checks: Callable[[], dict[str, Callable[[], Awaitable[bool]]]]) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        named = checks()
        results = await asyncio.gather(*(check() for check in named.values()))
        answers = {name: "ok" if ok else "unreachable" for name, ok in zip(named, results, strict=True)}
        ready = all(results)
        return JSONResponse({"status": "ready" if ready else "not ready", **answers}, 200 if ready else 503)

    return router
