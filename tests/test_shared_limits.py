"""Per-key limits (rpm, tpm, concurrency, budget) enforced by the gateway: in one process
with the in-memory counters, and across three replicas sharing one real redis-server, where
the counts must be exact (20 rpm across 3 replicas lets through 20, not 60)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openai
import pytest

from polymux.errors import ConfigurationError
from polymux.server.config import GatewayConfig, parse_config
from polymux.server.shared.connection import Batcher, connect
from polymux.server.shared.counters import (
    Counters,
    Lease,
    MemoryCounters,
    RedisCounters,
    Refusal,
    period,
)
from polymux.server.store import KeyLimits, Store

from .fakes import json
from .fakes.openai import CHAT, completion
from .services import RedisServer
from .shared_support import chat, limited_key, prefix, replicas

BACKENDS = ["memory", "redis"]


def _redis(backend: str, request: pytest.FixtureRequest) -> RedisServer | None:
    return request.getfixturevalue("redis_server") if backend == "redis" else None


def _statuses(responses: list[Any]) -> dict[int, int]:
    out: dict[int, int] = {}
    for r in responses:
        out[r.status_code] = out.get(r.status_code, 0) + 1
    return out


@pytest.mark.parametrize("backend", BACKENDS)
def test_rpm_lets_through_exactly_the_limit(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    redis = _redis(backend, request)
    n = 3 if redis else 1  # in memory, each process counts alone
    with replicas(tmp_path, redis, n) as gws:
        key = limited_key(gws[0].db_path, "team", KeyLimits(rpm=20))
        answers = [chat(gws[i % n], key) for i in range(45)]
    assert _statuses(answers) == {200: 20, 429: 25}
    refused = [r for r in answers if r.status_code == 429]
    for r in refused:
        assert 1 <= int(r.headers["retry-after"]) <= 60
        error = r.json()["error"]
        assert error["type"] == "rate_limit_error"
        assert error["code"] == "key_rpm_exceeded"
        assert "20 requests per minute" in error["message"]
    # Every replica refused some: the count is shared, not per replica.
    assert all(answers[i].status_code == 429 for i in range(42, 45))


def test_official_sdk_sees_a_rate_limit_error_with_retry_after(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    with replicas(tmp_path, redis_server, 2) as (a, b):
        key = limited_key(a.db_path, "sdk", KeyLimits(rpm=1))
        first = openai.OpenAI(base_url=a.url + "/v1", api_key=key, max_retries=0)
        second = openai.OpenAI(base_url=b.url + "/v1", api_key=key, max_retries=0)
        body: Any = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}
        assert first.chat.completions.create(**body).choices[0].message.content == "hello"
        with pytest.raises(openai.RateLimitError) as caught:
            second.chat.completions.create(**body)
    assert int(caught.value.response.headers["retry-after"]) >= 1
    assert "limit of 1 requests per minute" in str(caught.value)


@pytest.mark.parametrize("backend", BACKENDS)
def test_tokens_per_minute_and_token_budget_count_what_answers_used(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # The fake upstream's answers use 15 tokens: under 40, requests pass while fewer than 40
    # were used, so the third (30 used) passes and the fourth (45 used) is refused.
    redis = _redis(backend, request)
    n = 3 if redis else 1
    with replicas(tmp_path, redis, n) as gws:
        tpm = limited_key(gws[0].db_path, "tpm", KeyLimits(tpm=40))
        budget = limited_key(
            gws[0].db_path,
            "budget",
            KeyLimits(budget=40, budget_unit="tokens", budget_period="day"),
        )
        by_tpm = [chat(gws[i % n], tpm) for i in range(6)]
        by_budget = [chat(gws[i % n], budget) for i in range(6)]
    assert [r.status_code for r in by_tpm] == [200, 200, 200, 429, 429, 429]
    assert by_tpm[3].json()["error"]["code"] == "key_tpm_exceeded"
    assert [r.status_code for r in by_budget] == [200, 200, 200, 429, 429, 429]
    error = by_budget[3].json()["error"]
    assert error["code"] == "key_budget_exceeded"
    assert "budget of 40 tokens per day" in error["message"]
    # Retry-After: until the UTC day ends.
    _, ends = period("day", time.time())
    assert abs(int(by_budget[3].headers["retry-after"]) - (ends - time.time())) < 120


@pytest.mark.parametrize("backend", BACKENDS)
def test_concurrent_requests_are_capped_and_slots_come_back(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    redis = _redis(backend, request)
    n = 3 if redis else 1
    gate = threading.Event()

    async def held(request: Any) -> Any:
        while not gate.is_set():
            await asyncio.sleep(0.01)
        return await json(200, completion("hello"))(request)

    with replicas(tmp_path, redis, n) as gws:
        for gw in gws:
            gw.upstream.script("POST", CHAT, held)
        key = limited_key(gws[0].db_path, "two", KeyLimits(concurrency=2))
        results: list[Any] = []
        threads = [
            threading.Thread(target=lambda i=i: results.append(chat(gws[i % n], key)))
            for i in range(2)
        ]
        for t in threads:
            t.start()
        # Both are in flight once their upstreams saw them.
        deadline = time.monotonic() + 10
        while sum(len(gw.upstream.requests) for gw in gws) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        third = chat(gws[-1], key)
        gate.set()
        for t in threads:
            t.join(30)
        after = [chat(gws[i % n], key) for i in range(2)]
    assert third.status_code == 429
    assert third.json()["error"]["code"] == "key_concurrency_exceeded"
    assert [r.status_code for r in results] == [200, 200]
    assert [r.status_code for r in after] == [200, 200]


def test_keys_without_limits_and_other_keys_are_not_affected(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    with replicas(tmp_path, redis_server, 2) as (a, b):
        limited = limited_key(a.db_path, "limited", KeyLimits(rpm=1))
        with Store(a.db_path) as store:
            free = store.create_key("free")
        other = limited_key(a.db_path, "other", KeyLimits(rpm=1))
        assert chat(a, limited).status_code == 200
        assert chat(b, limited).status_code == 429
        assert [chat(b, free).status_code for _ in range(5)] == [200] * 5
        assert chat(a, other).status_code == 200
        # The replicas share one database, each with its own usage writer: B's rows (the
        # 429) are written once B's writer has flushed, which its usage_rows() makes happen.
        b.usage_rows()
        rows = a.usage_rows()
    refused = [r for r in rows if r["status"] == 429]
    assert [r["key_name"] for r in refused] == ["limited"]


# -- the counters themselves, both implementations ------------------------------------------
@pytest.fixture
async def counters(request: pytest.FixtureRequest) -> AsyncIterator[Counters]:
    if request.param == "memory":
        yield MemoryCounters()
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    client = connect(server.url)
    batcher = Batcher(client)
    yield RedisCounters(batcher, prefix=prefix())
    await batcher.aclose()
    await client.aclose()


@pytest.mark.parametrize("counters", BACKENDS, indirect=True)
async def test_usd_budget_is_charged_from_costs(counters: Counters) -> None:
    limits = KeyLimits(budget=1.0, budget_unit="usd", budget_period="month")
    for _ in range(3):
        lease = await counters.admit("k", limits)
        assert isinstance(lease, Lease)
        await counters.settle(lease, 1000, 0.4)  # tokens do not count in USD
    refused = await counters.admit("k", limits)
    assert isinstance(refused, Refusal) and refused.limit == "budget"
    _, ends = period("month", time.time())
    assert abs(refused.retry_after - (ends - time.time())) < 5
    # Another key has its own budget.
    assert isinstance(await counters.admit("other", limits), Lease)


@pytest.mark.parametrize("counters", BACKENDS, indirect=True)
async def test_a_limit_changed_mid_request_does_not_unbalance_slots(counters: Counters) -> None:
    one = KeyLimits(concurrency=1)
    held = await counters.admit("k", one)
    assert isinstance(held, Lease)
    assert isinstance(await counters.admit("k", one), Refusal)
    # The key's limit is lifted while the request runs; its slot is still given back.
    await counters.settle(held, 0, 0.0)
    await counters.settle(held, 0, 0.0)  # twice: no second release
    again = await counters.admit("k", one)
    assert isinstance(again, Lease)
    assert isinstance(await counters.admit("k", one), Refusal)


def test_the_minute_window_slides_and_budgets_reset_with_their_period() -> None:
    now = [1_800_000_000.0]  # 2027-01-15 08:00 UTC
    counters = MemoryCounters(clock=lambda: now[0])

    async def run() -> None:
        limits = KeyLimits(rpm=2, budget=10, budget_unit="tokens", budget_period="day")
        first = await counters.admit("k", limits)
        assert isinstance(first, Lease)
        await counters.settle(first, 6, 0.0)
        now[0] += 30
        assert isinstance(await counters.admit("k", limits), Lease)
        refused = await counters.admit("k", limits)
        assert refused == Refusal("rpm", 30.0)  # the first request ages out in 30 s
        now[0] += 30
        lease = await counters.admit("k", limits)
        assert isinstance(lease, Lease)
        await counters.settle(lease, 6, 0.0)  # 12 tokens of 10 today
        now[0] += 60
        over = await counters.admit("k", limits)
        assert isinstance(over, Refusal) and over.limit == "budget"
        now[0] += over.retry_after  # the next UTC day
        assert isinstance(await counters.admit("k", limits), Lease)

    asyncio.run(run())


# -- configuration ----------------------------------------------------------------------------
def test_the_state_section_names_redis_without_credentials() -> None:
    config = parse_config(
        {"state": {"redis": "redis://10.0.0.5:6379/2", "limits_on_redis_error": "closed"}}
    )
    assert config.redis == "redis://10.0.0.5:6379/2"
    assert config.limits_on_redis_error == "closed"
    assert "10.0.0.5" not in repr(config)  # a URL given by flag may hold a password
    assert GatewayConfig().redis is None  # the embedded default: nothing shared
    with pytest.raises(ConfigurationError, match="redis_password_env"):
        parse_config({"state": {"redis": "redis://:hunter2@10.0.0.5:6379/0"}})
    with pytest.raises(ConfigurationError, match='"open" or "closed"'):
        parse_config({"state": {"limits_on_redis_error": "maybe"}})
    with pytest.raises(ConfigurationError, match="must be a URL"):
        parse_config({"state": {"redis": "10.0.0.5:6379"}})
    with pytest.raises(ConfigurationError, match="unknown setting"):
        parse_config({"state": {"memcached": "x"}})
