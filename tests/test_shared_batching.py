"""The Redis batcher under the per-key limits, against the real redis-server: a loop turn's
admissions are one script call and keep exact counts; settlements are sent without waiting
for their answer, yet are written before the client closes, and a failed or dropped one is
logged; scripts Redis lost are loaded again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from polymux.server.shared.connection import Batcher, connect
from polymux.server.shared.counters import Lease, RedisCounters, Refusal
from polymux.server.store import KeyLimits

from .services import RedisServer
from .shared_support import prefix


@pytest.fixture
async def batcher(redis_server: RedisServer) -> AsyncIterator[Batcher]:
    client = connect(redis_server.url)
    batcher = Batcher(client)
    yield batcher
    await batcher.aclose()
    await client.aclose()


async def _script_calls(batcher: Batcher) -> int:
    stats = await batcher.client.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


async def test_one_loop_turns_admissions_are_one_script_call_with_exact_counts(
    batcher: Batcher,
) -> None:
    counters = RedisCounters(batcher, prefix=prefix())
    limits = KeyLimits(rpm=20, concurrency=25)
    warm = await counters.admit("warm", KeyLimits(concurrency=1))  # the scripts are loaded
    assert isinstance(warm, Lease)
    await counters.settle(warm, 0, 0.0)
    await batcher.drain()
    before = await _script_calls(batcher)
    answers = await asyncio.gather(*(counters.admit("team", limits) for _ in range(30)))
    calls = await _script_calls(batcher) - before
    assert calls == 1
    leases = [a for a in answers if isinstance(a, Lease)]
    refusals = [a for a in answers if isinstance(a, Refusal)]
    assert len(leases) == 20  # the rpm, not the concurrency, was reached first
    assert {r.limit for r in refusals} == {"rpm"}
    assert len({lease.id for lease in leases}) == 20
    # Their settlements, also one loop turn, are one call too; the slots come back.
    before = await _script_calls(batcher)
    for lease in leases:
        await counters.settle(lease, 10, 0.0)
    await batcher.drain()
    assert await _script_calls(batcher) - before == 1
    five = KeyLimits(concurrency=5)
    held = await asyncio.gather(*(counters.admit("team", five) for _ in range(6)))
    assert sum(isinstance(a, Lease) for a in held) == 5


async def test_settlements_are_written_before_the_client_closes(
    redis_server: RedisServer,
) -> None:
    # settle() returns before Redis answered; closing the batcher waits for the answer, so
    # the tokens are charged: a new process sees the budget spent.
    name = prefix()
    limits = KeyLimits(budget=40, budget_unit="tokens", budget_period="day")
    client = connect(redis_server.url)
    batcher = Batcher(client)
    counters = RedisCounters(batcher, prefix=name)
    leases = await asyncio.gather(*(counters.admit("k", limits) for _ in range(3)))
    for lease in leases:
        assert isinstance(lease, Lease)
        await counters.settle(lease, 15, 0.0)
    await batcher.aclose()
    await client.aclose()

    other = connect(redis_server.url)
    again = Batcher(other)
    try:
        refused = await RedisCounters(again, prefix=name).admit("k", limits)
    finally:
        await again.aclose()
        await other.aclose()
    assert isinstance(refused, Refusal) and refused.limit == "budget"


async def test_a_settlement_redis_did_not_take_is_logged(
    outage: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    client = connect(outage.url)
    batcher = Batcher(client)
    counters = RedisCounters(batcher, prefix=prefix())
    lease = await counters.admit("k", KeyLimits(tpm=100))
    assert isinstance(lease, Lease)
    outage.stop()
    with caplog.at_level(logging.ERROR, logger="polymux.server"):
        await counters.settle(lease, 15, 0.0)  # returns; the failure comes later
        await batcher.drain()
    await batcher.aclose()
    await client.aclose()
    logged = [r.getMessage() for r in caplog.records]
    assert any(
        "Redis unreachable (limits" in m and "tokens and cost were not counted" in m for m in logged
    )


async def test_settlements_past_the_bound_are_dropped_and_logged(
    batcher: Batcher, caplog: pytest.LogCaptureFixture
) -> None:
    batcher.MAX_UNANSWERED = 2
    counters = RedisCounters(batcher, prefix=prefix())
    limits = KeyLimits(concurrency=3)
    leases = await asyncio.gather(*(counters.admit("k", limits) for _ in range(3)))
    with caplog.at_level(logging.ERROR, logger="polymux.server"):
        for lease in leases:
            assert isinstance(lease, Lease)
            await counters.settle(lease, 0, 0.0)  # queued in one turn: the third is over
    assert any("calls to Redis are still unanswered" in r.getMessage() for r in caplog.records)
    await batcher.drain()
    # Two slots came back; the dropped one is still held (until its lease expires).
    again = await asyncio.gather(*(counters.admit("k", limits) for _ in range(3)))
    assert [isinstance(a, Lease) for a in again].count(True) == 2


async def test_scripts_redis_lost_are_loaded_again(batcher: Batcher) -> None:
    counters = RedisCounters(batcher, prefix=prefix())
    limits = KeyLimits(rpm=2)
    assert isinstance(await counters.admit("k", limits), Lease)
    await batcher.client.script_flush()  # as a restarted Redis without its scripts
    answers = await asyncio.gather(*(counters.admit("k", limits) for _ in range(2)))
    assert [type(a) for a in answers] == [Lease, Refusal]


async def test_the_first_call_after_a_redis_restart_succeeds(outage: RedisServer) -> None:
    # The batcher's kept connection was closed by the old server: the call is tried once
    # more on a new connection (and the scripts loaded again), not failed.
    client = connect(outage.url)
    batcher = Batcher(client)
    counters = RedisCounters(batcher, prefix=prefix())
    try:
        assert isinstance(await counters.admit("k", KeyLimits(rpm=5)), Lease)
        outage.stop()
        outage.start()
        assert isinstance(await counters.admit("k", KeyLimits(rpm=5)), Lease)
    finally:
        await batcher.aclose()
        await client.aclose()
