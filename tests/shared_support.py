"""Several gateway replicas for the shared-state tests: each a full gateway (uvicorn on its
own port, its own fake upstream, its own event loop and thread), all sharing one SQLite file
and one real redis-server under a prefix of their own."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from polymux.server.store import KeyLimits, Store

from .fakes import FakeServer
from .server_harness import LiveGateway, fake_config
from .services import RedisServer

CHAT_BODY = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}


def prefix() -> str:
    """A Redis key prefix of one test: tests never see each other's counters."""
    return f"polymux-test-{secrets.token_hex(4)}:"


def shared_state(request: pytest.FixtureRequest, shared: bool) -> dict[str, Any]:
    """Config overrides: the session's redis-server under a fresh prefix, or nothing (the
    embedded default)."""
    if not shared:
        return {}
    server: RedisServer = request.getfixturevalue("redis_server")
    return {"redis": server.url, "redis_prefix": prefix()}


@contextmanager
def replicas(
    tmp_path: Path, redis: RedisServer | None, n: int = 3, **overrides: Any
) -> Iterator[list[LiveGateway]]:
    shared: dict[str, Any] = {}
    if redis is not None:
        shared = {"redis": redis.url, "redis_prefix": prefix()}

    def configure(upstream: FakeServer) -> Any:
        from .fakes.openai import CHAT, reply

        upstream.script("POST", CHAT, reply("hello"))
        return fake_config(upstream, **shared, **overrides)

    with ExitStack() as stack:
        yield [stack.enter_context(LiveGateway(tmp_path, configure)) for _ in range(n)]


def limited_key(db: Path, name: str, limits: KeyLimits) -> str:
    """A new key with these limits."""
    with Store(db) as store:
        return store.create_key(name, limits=limits)


def chat(gateway: LiveGateway, key: str) -> httpx.Response:
    return httpx.post(
        gateway.url + "/v1/chat/completions",
        json=CHAT_BODY,
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    )
