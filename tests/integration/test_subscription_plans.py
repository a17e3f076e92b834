"""A follower whose tables grow from nothing has its pass's statements planned for their parameters each
time, for that pass's transaction only: the connection goes back to the pool as it was."""

import uuid

import asyncpg
import pytest

from services.review.eventstore.base import NewEvent
from services.review.eventstore.postgres import PostgresEventStore
from services.review.eventstore.subscription import Subscription
from shared.db import Connection


async def planning_seen_in_a_pass(pool: asyncpg.Pool, plan_each_time: bool) -> tuple[list[str], str]:
    """What the handler of one pass saw of `plan_cache_mode`, and what the connection has after it."""
    name = f"plans-{uuid.uuid4().hex[:8]}"
    await pool.execute("INSERT INTO review.projection_checkpoints (name, position) VALUES ($1, 0)", name)
    seen: list[str] = []

    async def handle(conn: Connection, events: list[asyncpg.Record]) -> None:
        seen.append(await conn.fetchval("SELECT current_setting('plan_cache_mode')"))

    async with pool.acquire() as conn:
        _, handled = await Subscription(name, "position", plan_each_time=plan_each_time).process(conn, handle)
        assert handled == 1
        after = await conn.fetchval("SELECT current_setting('plan_cache_mode')")
    return seen, after


@pytest.fixture
async def one_event(pool: asyncpg.Pool) -> None:
    store = PostgresEventStore(pool)
    await store.append(uuid.uuid4(), 0, [NewEvent(uuid.uuid4(), "ProposalWithdrawn", 1, {}, {})])
    await store.stop()


@pytest.mark.usefixtures("one_event")
async def test_a_pass_that_asks_plans_its_statements_each_time_and_only_in_its_transaction(
    pool: asyncpg.Pool,
) -> None:
    assert await planning_seen_in_a_pass(pool, plan_each_time=True) == (["force_custom_plan"], "auto")


@pytest.mark.usefixtures("one_event")
async def test_a_pass_that_does_not_ask_keeps_the_servers_way(pool: asyncpg.Pool) -> None:
    assert await planning_seen_in_a_pass(pool, plan_each_time=False) == (["auto"], "auto")
