"""`python -m benchmarks.reference intake|review|reads`: one process of the reference, served by uvicorn as
the product's services are (a bare ASGI function, no framework). Configured by the environment:
REF_DATABASE_URL, REF_AMQP_URL, REF_PREFIX, REF_PORT."""

import json
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

import uvicorn

from benchmarks.reference.intake import Intake
from benchmarks.reference.plumbing import Names
from benchmarks.reference.review import Review
from services.review.queries import get_view_as
from shared.access import Role
from shared.db import create_pool
from shared.personal_data.master_key import load_master_key
from shared.runtime import tune_garbage_collection

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
READERS = {Role.REVIEWER, Role.AUDITOR}


async def answer(send: Send, status: int, body: bytes, *extra: tuple[bytes, bytes]) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += bytes(message.get("body", b""))
        if not message.get("more_body"):
            return body


def application(kind: str) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    database_url, amqp_url = os.environ["REF_DATABASE_URL"], os.environ.get("REF_AMQP_URL", "")
    names = Names(os.environ.get("REF_PREFIX", "reference"))
    state: dict[str, Any] = {}

    async def start() -> None:
        if kind == "intake":
            state["intake"] = Intake(database_url, amqp_url, names)
            await state["intake"].start()
        elif kind == "review":
            state["review"] = Review(database_url, amqp_url, names)
            await state["review"].start()
        else:  # the status GET, with the product's own query and JSON
            state["pool"] = await create_pool(database_url, max_size=20)
            state["master"] = load_master_key(os.environ["KIPP_MASTER_KEY_FILE"])

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await receive()  # lifespan.startup
            await start()
            await send({"type": "lifespan.startup.complete"})
            await receive()  # lifespan.shutdown
            await send({"type": "lifespan.shutdown.complete"})
            return
        path, method = scope["path"], scope["method"]
        if path == "/readyz":
            await answer(send, 200, b"{}")
        elif kind == "intake" and method == "POST" and path == "/v1/proposals":
            await answer(
                send, 202, json.dumps(await state["intake"].submit(await read_body(receive))).encode()
            )
        elif kind == "reads" and method == "GET" and path.startswith("/v1/proposals/"):
            key = dict(scope["headers"]).get(b"authorization", b"").decode().removeprefix("Bearer ")
            proposal_id = UUID(path.rsplit("/", 1)[1])
            caller, view = await get_view_as(state["pool"], key, proposal_id, state["master"])
            if caller is None or caller.role not in READERS:
                await answer(send, 401, b"{}")
            elif view is None:
                await answer(send, 404, b"{}")
            else:
                await answer(send, 200, view.content, (b"etag", f'"{view.version}"'.encode()))
        else:
            await answer(send, 404, b"{}")

    return app


if __name__ == "__main__":
    tune_garbage_collection()
    uvicorn.run(
        application(sys.argv[1]),
        host="127.0.0.1",
        port=int(os.environ["REF_PORT"]),
        log_config=None,
        access_log=False,
    )
