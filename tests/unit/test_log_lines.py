"""What the services' JSON log lines carry, and what the broker client's complaints become in them."""

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiormq.exceptions import AMQPConnectionError

from shared import observability
from shared.observability import BrokerReconnects, JsonFormatter, configure_logging

# Where the project's code is, as the running code sees it.
SERVICES = Path(observability.__file__).parents[1] / "services"


def written(record: logging.LogRecord) -> list[dict[str, Any]]:
    """The lines a service's log handler writes for `record`."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter("review"))
    handler.addFilter(BrokerReconnects())
    handler.handle(record)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def record(
    logger: str, level: int, message: str, *args: object, error: BaseException | None = None
) -> logging.LogRecord:
    exc_info = (type(error), error, error.__traceback__) if error is not None else None
    return logging.LogRecord(logger, level, __file__, 1, message, args or None, exc_info)


def raised(error: BaseException, cause: BaseException | None = None) -> BaseException:
    """`error` with a traceback (and its cause), as a library logs it from an `except` block."""
    try:
        raise error from cause
    except BaseException as caught:
        return caught


def lost_connection() -> BaseException:
    """What aiormq's reader raises when RabbitMQ goes away."""
    return raised(
        AMQPConnectionError("Server connection unexpectedly closed. Read 0 bytes but 1 bytes expected"),
        raised(asyncio.IncompleteReadError(b"", 1)),
    )


def test_uvicorns_color_message_is_not_written() -> None:
    line = record("uvicorn.error", logging.INFO, "Started server process [%d]", 7)
    line.color_message = "Started server process [\x1b[36m%d\x1b[0m]"
    [found] = written(line)
    assert found["message"] == "Started server process [7]"
    assert "color_message" not in found
    assert "\x1b" not in json.dumps(found)


def test_other_extra_fields_are_still_written() -> None:
    line = record("services.review.consumer", logging.INFO, "recorded")
    line.proposal_id = "p-1"
    assert written(line)[0]["proposal_id"] == "p-1"


def test_the_broker_clients_reconnect_traceback_is_one_warning_line() -> None:
    error = lost_connection()
    assert (
        len(logging.Formatter().formatException((type(error), error, error.__traceback__)).splitlines()) > 5
    )
    [found] = written(
        record("aiormq.connection", logging.WARNING, "Cancelling cause reader exited", error=error)
    )
    assert found["level"] == "warning"
    assert found["message"] == (
        "Cancelling cause reader exited: AMQPConnectionError: "
        "Server connection unexpectedly closed. Read 0 bytes but 1 bytes expected"
    )
    assert "error" not in found
    assert "\n" not in json.dumps(found)


def test_a_lost_connection_logged_as_an_error_by_the_client_becomes_a_warning() -> None:
    error = raised(ConnectionResetError(104, "Connection reset by peer"))
    [found] = written(record("aio_pika.robust_connection", logging.ERROR, "Reconnect failed", error=error))
    assert (found["level"], "error" in found) == ("warning", False)
    refused = AMQPConnectionError(111, "Connection refused")
    [found] = written(
        record("aiormq.connection", logging.ERROR, "error when creating transport: %r", refused)
    )
    assert found["level"] == "warning"
    assert "Connection refused" in found["message"]


def test_other_errors_of_the_broker_client_keep_their_level_and_traceback() -> None:
    error = raised(ValueError("not a connection"))
    [found] = written(record("faststream", logging.ERROR, "handler failed", error=error))
    assert found["level"] == "error"
    assert "Traceback" in found["error"]
    assert "ValueError: not a connection" in found["error"]


def test_the_projects_own_errors_keep_their_traceback_even_when_the_connection_is_lost() -> None:
    [found] = written(record("services.review.consumer", logging.ERROR, "failed", error=lost_connection()))
    assert found["level"] == "error"
    assert "AMQPConnectionError" in found["error"]
    # A handler of ours that fails is logged by faststream: it runs through the project's code.
    namespace: dict[str, Any] = {}
    code = "def handler():\n    raise ConnectionResetError('the database went away')\n"
    exec(compile(code, str(SERVICES / "review" / "handler.py"), "exec"), namespace)
    with pytest.raises(ConnectionResetError) as ours:
        namespace["handler"]()
    [found] = written(record("faststream.access.rabbit", logging.ERROR, "handler failed", error=ours.value))
    assert found["level"] == "error"
    assert "the database went away" in found["error"]


@pytest.fixture
def restored_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


@pytest.mark.usefixtures("restored_root_logger")
def test_the_services_log_handler_has_the_filter() -> None:
    configure_logging("intake")
    [handler] = logging.getLogger().handlers
    assert any(isinstance(f, BrokerReconnects) for f in handler.filters)
    assert isinstance(handler.formatter, JsonFormatter)
