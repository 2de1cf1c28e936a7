"""The exact-match response cache: opt-in by header or by the config's model list, keyed by
API key and normalized request, shared by three replicas through a real redis-server, a
miss (never an error) while Redis is away; a cached answer says so in a header and in the
usage log and charges no tokens."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from polymux.errors import ConfigurationError
from polymux.server.config import parse_config
from polymux.server.store import KeyLimits, Store

from .server_harness import LiveGateway
from .services import RedisServer
from .shared_support import CHAT_BODY, limited_key, replicas

ON = {"x-polymux-cache": "on"}


def _post(
    gw: LiveGateway, body: Any = CHAT_BODY, headers: dict[str, str] | None = None
) -> httpx.Response:
    r = httpx.post(gw.url + "/v1/chat/completions", json=body, headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    return r


def _upstream_calls(*gws: LiveGateway) -> int:
    return sum(len(gw.upstream.requests) for gw in gws)


def test_opt_in_by_header_hit_miss_and_the_usage_log(tmp_path: Path) -> None:
    with replicas(tmp_path, None, 1, cache_ttl=300.0) as (gw,):
        first = _post(gw, headers=ON)
        second = _post(gw, headers=ON)
        # The same request with its fields in another order, streamed-or-not aside.
        reordered = {"messages": CHAT_BODY["messages"], "model": "fake-model", "user": "u1"}
        third = _post(gw, reordered, headers=ON)
        assert _upstream_calls(gw) == 1
        other = _post(gw, {**CHAT_BODY, "temperature": 0.5}, headers=ON)
        plain = _post(gw)  # no header, no rule: not cached, not looked up
        off = _post(gw, headers={"x-polymux-cache": "off"})
        assert _upstream_calls(gw) == 4
        rows = gw.usage_rows()
    assert first.headers["x-polymux-cache"] == "miss"
    assert second.headers["x-polymux-cache"] == "hit"
    assert third.headers["x-polymux-cache"] == "hit"
    assert second.json() == first.json()
    assert other.headers["x-polymux-cache"] == "miss"
    assert "x-polymux-cache" not in plain.headers
    assert "x-polymux-cache" not in off.headers
    assert [r["cached"] for r in rows] == [0, 1, 1, 0, 0, 0]
    assert rows[1]["provider"] == rows[0]["provider"] == "fake"
    assert rows[1]["total_tokens"] is None  # no upstream tokens were spent
    assert rows[0]["total_tokens"] == 15


def test_the_config_rule_caches_listed_models_and_entries_expire(tmp_path: Path) -> None:
    with replicas(tmp_path, None, 1, cache_ttl=0.2, cache_models=("fake-model",)) as (gw,):
        assert _post(gw).headers["x-polymux-cache"] == "miss"
        assert _post(gw).headers["x-polymux-cache"] == "hit"
        time.sleep(0.3)  # past the TTL
        assert _post(gw).headers["x-polymux-cache"] == "miss"
        streamed = httpx.post(
            gw.url + "/v1/chat/completions", json={**CHAT_BODY, "stream": True}, timeout=30
        )
        assert "x-polymux-cache" not in streamed.headers  # streams are not cached


def test_answers_are_not_shared_between_keys_and_hits_charge_no_tokens(tmp_path: Path) -> None:
    with replicas(tmp_path, None, 1, cache_ttl=300.0) as (gw,):
        # 16 tokens a minute: one answer (15 tokens) fits; a second uncached one would not.
        tight = limited_key(gw.db_path, "tight", KeyLimits(tpm=16))
        with Store(gw.db_path) as store:
            other = store.create_key("other")
        answers = [
            httpx.post(
                gw.url + "/v1/chat/completions",
                json=CHAT_BODY,
                headers={**ON, "authorization": f"Bearer {key}"},
                timeout=30,
            )
            for key in (tight, tight, tight, other)
        ]
    assert [r.status_code for r in answers] == [200, 200, 200, 200]
    assert [r.headers["x-polymux-cache"] for r in answers] == ["miss", "hit", "hit", "miss"]


def test_three_replicas_share_the_cache_through_redis(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    with replicas(tmp_path, redis_server, 3, cache_ttl=300.0) as gws:
        answers = [_post(gws[i % 3], headers=ON) for i in range(6)]
        calls = _upstream_calls(*gws)
    assert [r.headers["x-polymux-cache"] for r in answers] == ["miss"] + ["hit"] * 5
    assert calls == 1
    assert all(r.json() == answers[0].json() for r in answers)


def test_the_cache_misses_while_redis_is_away(tmp_path: Path, outage: RedisServer) -> None:
    with replicas(tmp_path, outage, 2, cache_ttl=300.0) as (a, b):
        assert _post(a, headers=ON).headers["x-polymux-cache"] == "miss"
        outage.stop()
        during = [_post(gw, headers=ON).headers["x-polymux-cache"] for gw in (a, b)]
        outage.start()  # empty again
        after = [_post(gw, headers=ON).headers["x-polymux-cache"] for gw in (a, b)]
    assert during == ["miss", "miss"]
    assert after == ["miss", "hit"]


def test_cache_settings_are_checked() -> None:
    config = parse_config({"cache": {"ttl": 60, "models": ["a", "b"]}})
    assert (config.cache_ttl, config.cache_models) == (60.0, ("a", "b"))
    assert parse_config({}).cache_ttl is None  # off by default
    with pytest.raises(ConfigurationError, match="ttl must be a positive"):
        parse_config({"cache": {"ttl": 0}})
    with pytest.raises(ConfigurationError, match="unknown setting"):
        parse_config({"cache": {"size": 5}})
