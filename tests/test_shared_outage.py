"""The real redis-server stopped and started again under running replicas: per-key limits
fail open (served uncounted, logged once per replica) or closed (503), as configured, and
are enforced again once Redis is back, without restarting the gateway."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from polymux.server.store import KeyLimits

from .services import RedisServer
from .shared_support import chat, limited_key, replicas


def test_limits_fail_open_then_recover(
    tmp_path: Path, outage: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    with replicas(tmp_path, outage, 2) as (a, b):
        key = limited_key(a.db_path, "team", KeyLimits(rpm=2))
        before = [chat(a, key).status_code, chat(b, key).status_code, chat(a, key).status_code]
        outage.stop()
        with caplog.at_level(logging.ERROR, logger="polymux.server"):
            during = [chat(gw, key).status_code for gw in (a, b, a, b)]
        outage.start()  # an empty Redis: the minute's count starts again
        after = [chat(gw, key).status_code for gw in (a, b, a, b)]
    assert before == [200, 200, 429]
    assert during == [200, 200, 200, 200]
    unreachable = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
    assert len(unreachable) == 2  # once per replica, not once per request
    assert "serving requests without counting them" in unreachable[0].getMessage()
    assert after == [200, 200, 429, 429]


def test_limits_fail_closed_when_configured(tmp_path: Path, outage: RedisServer) -> None:
    with replicas(tmp_path, outage, 2, limits_on_redis_error="closed") as (a, b):
        key = limited_key(a.db_path, "team", KeyLimits(rpm=5))
        assert chat(a, key).status_code == 200
        assert httpx.get(a.url + "/ready", timeout=10).status_code == 200
        outage.stop()
        during = [chat(gw, key) for gw in (a, b)]
        not_ready = httpx.get(b.url + "/ready", timeout=10)
        outage.start()
        after = [chat(gw, key).status_code for gw in (a, b)]
        ready = httpx.get(b.url + "/ready", timeout=10).status_code
    for answer in during:
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "1"
        assert answer.json()["error"]["code"] == "limits_unavailable"
    assert after == [200, 200]
    # /ready names Redis while it is away (the route is public: no address in the reason).
    assert not_ready.status_code == 503
    assert "Redis unreachable" in not_ready.json()["checks"]["redis"]
    assert outage.url.split("//")[1] not in not_ready.text
    assert ready == 200
