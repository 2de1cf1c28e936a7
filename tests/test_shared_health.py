"""Provider cooldowns shared through a real redis-server: a 429 replica A gets makes replica
B skip that upstream (its fallback answers) without B ever calling it; the embedded default
keeps them per process; with Redis away each replica keeps its own again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from polymux.server.config import GatewayConfig, ProviderConfig

from .fakes import FakeServer
from .fakes.openai import error, reply
from .server_harness import LiveGateway
from .services import RedisServer
from .shared_support import prefix, shared_state

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def _configure(shared: dict[str, Any]) -> Any:
    def configure(upstream: FakeServer) -> GatewayConfig:
        upstream.script("POST", "/first/v1/chat/completions", reply("from first"))
        upstream.script("POST", "/second/v1/chat/completions", reply("from second"))
        providers = tuple(
            ProviderConfig(name=n, type="openai-compatible", base_url=upstream.url(f"/{n}/v1"))
            for n in ("first", "second")
        )
        return GatewayConfig(
            port=1, providers=providers, aliases={"m": ("first", "second")}, max_retries=0, **shared
        )

    return configure


def _answer(gw: LiveGateway) -> str:
    r = httpx.post(gw.url + "/v1/chat/completions", json=BODY, timeout=30)
    assert r.status_code == 200, r.text
    return str(r.json()["choices"][0]["message"]["content"])


def _firsts(gw: LiveGateway) -> int:
    return sum(1 for r in gw.upstream.requests if r.path.startswith("/first/"))


def _rate_limit_first(gw: LiveGateway) -> None:
    gw.upstream.script(
        "POST",
        "/first/v1/chat/completions",
        error(429, "slow down", type="rate_limit_error", headers={"retry-after": "120"}),
    )


@pytest.mark.parametrize("shared", [True, False], ids=["redis", "embedded"])
def test_a_rate_limit_seen_by_one_replica_is_skipped_by_the_others(
    shared: bool, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    state = shared_state(request, shared)
    with (
        LiveGateway(tmp_path, _configure(state)) as a,
        LiveGateway(tmp_path, _configure(state)) as b,
    ):
        assert _answer(a) == "from first"
        assert _answer(b) == "from first"
        _rate_limit_first(a)
        assert _answer(a) == "from second"  # A's first answered 429: A falls back
        assert _firsts(a) == 2
        answers = [_answer(b) for _ in range(3)]
        cooling = b.call(lambda: b.app.client.router.health.cooling_for("first"))
        assert _answer(a) == "from second"
        assert _firsts(a) == 2  # A skips it now
        b_firsts = _firsts(b)
    if shared:
        assert answers == ["from second"] * 3
        assert b_firsts == 1  # B never called it after A's 429
        assert 100 < cooling <= 120  # B's metrics and /ready see A's cooldown
    else:  # each process keeps its own health
        assert answers == ["from first"] * 3
        assert b_firsts == 4
        assert cooling == 0.0


def test_health_falls_back_to_each_process_while_redis_is_away(
    tmp_path: Path,
    outage: RedisServer,
) -> None:
    state = {"redis": outage.url, "redis_prefix": prefix()}
    with (
        LiveGateway(tmp_path, _configure(state)) as a,
        LiveGateway(tmp_path, _configure(state)) as b,
    ):
        assert _answer(a) == "from first"
        outage.stop()
        _rate_limit_first(a)
        assert _answer(a) == "from second"
        assert _answer(a) == "from second"  # cooling down in A's memory
        assert _firsts(a) == 2
        assert _answer(b) == "from first"  # B cannot know
        outage.start()
        # Redis is back, empty: A's cooldown was only local, A tries first again and shares
        # its next 429.
        assert _answer(a) == "from second"
        assert _firsts(a) == 3
        assert _answer(b) == "from second"
        assert _firsts(b) == 1
