"""An upstream's max_concurrency held across replicas through a real redis-server: with 1
slot, a call on replica B waits while replica A's call is in flight, then goes."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from polymux.server.config import GatewayConfig

from .fakes import FakeServer, json
from .fakes.openai import CHAT, completion
from .server_harness import LiveGateway, fake_config
from .services import RedisServer
from .shared_support import CHAT_BODY, prefix, shared_state


def _until(check: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.mark.parametrize("shared", [True, False], ids=["redis", "embedded"])
def test_one_slot_is_shared_by_two_replicas(
    shared: bool, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    state = shared_state(request, shared)
    gate = threading.Event()

    async def held(request: Any) -> Any:
        while not gate.is_set():
            await asyncio.sleep(0.01)
        return await json(200, completion("hello"))(request)

    def configure(upstream: FakeServer) -> GatewayConfig:
        upstream.script("POST", CHAT, held)
        config = fake_config(upstream, **state)
        return replace(config, providers=(replace(config.providers[0], max_concurrency=1),))

    answers: list[int] = []

    def ask(gw: LiveGateway) -> None:
        answers.append(
            httpx.post(gw.url + "/v1/chat/completions", json=CHAT_BODY, timeout=30).status_code
        )

    with LiveGateway(tmp_path, configure) as a, LiveGateway(tmp_path, configure) as b:
        first = threading.Thread(target=ask, args=(a,))
        first.start()
        _until(lambda: len(a.upstream.requests) == 1)
        second = threading.Thread(target=ask, args=(b,))
        second.start()
        if shared:
            time.sleep(0.5)  # B's call waits for the slot all along
            waiting = len(b.upstream.requests)
        else:
            _until(lambda: len(b.upstream.requests) == 1)
            waiting = len(b.upstream.requests)
        gate.set()
        first.join(30)
        second.join(30)
        reached = len(b.upstream.requests)
    assert answers == [200, 200]
    assert waiting == (0 if shared else 1)
    assert reached == 1


def test_slots_come_back_and_each_process_limits_itself_while_redis_is_away(
    tmp_path: Path, outage: RedisServer
) -> None:
    state = {"redis": outage.url, "redis_prefix": prefix()}

    def configure(upstream: FakeServer) -> GatewayConfig:
        upstream.script("POST", CHAT, json(200, completion("hello")))
        config = fake_config(upstream, **state)
        return replace(config, providers=(replace(config.providers[0], max_concurrency=1),))

    def status(gw: LiveGateway) -> int:
        return httpx.post(gw.url + "/v1/chat/completions", json=CHAT_BODY, timeout=30).status_code

    with LiveGateway(tmp_path, configure) as a, LiveGateway(tmp_path, configure) as b:
        # One slot, given back after every call (else the next would wait for its lease).
        assert [status(gw) for gw in (a, b, a, b, a, b)] == [200] * 6
        outage.stop()
        during = [status(gw) for gw in (a, b, a, b)]
        outage.start()
        after = [status(gw) for gw in (a, b, a, b)]
    assert during == [200] * 4
    assert after == [200] * 4
