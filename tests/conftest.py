"""Fixtures shared by several test modules."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from .fakes import FakeServer
from .fakes.openai import CHAT, reply
from .services import PostgresServer, RedisServer, start_postgres, start_redis


@pytest.fixture
async def server() -> AsyncIterator[FakeServer]:
    """A fresh fake HTTP host on 127.0.0.1 (modules may define their own ``server``)."""
    async with FakeServer() as fake:
        yield fake


@pytest.fixture
async def upstream() -> AsyncIterator[FakeServer]:
    """An OpenAI-compatible fake upstream that answers every chat call "hello" (the gateway
    tests'; modules may define their own ``upstream``)."""
    async with FakeServer() as fake:
        fake.script("POST", CHAT, reply("hello"))
        yield fake


@pytest.fixture
async def app(upstream: FakeServer, tmp_path: Path) -> AsyncIterator[Any]:
    """A gateway (the ASGI app, without keys) in front of ``upstream``."""
    from polymux.server import create_app

    from .server_harness import fake_config

    gateway = create_app(fake_config(upstream), db_path=tmp_path / "g.db", key_refresh=0)
    yield gateway
    await gateway.aclose()


@pytest.fixture(params=["h1", "aiohttp"])
def http_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs a test twice: through h1.py's connection pool (HttpTransport's default) and with
    every request on aiohttp (``aiohttp_only``), so the two paths cannot diverge unseen."""
    from polymux.transport.http import HttpTransport

    path: str = request.param
    monkeypatch.setattr(HttpTransport, "aiohttp_only", path == "aiohttp")
    return path


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server on 127.0.0.1 for the session (tests flush what they use)."""
    yield from start_redis()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server on 127.0.0.1 for the session, with a ``polymux`` database."""
    yield from start_postgres()


@pytest.fixture
def outage(redis_server: RedisServer) -> Iterator[RedisServer]:
    """The session's redis-server for a test that stops it (an outage): started again after
    the test whatever happens."""
    try:
        yield redis_server
    finally:
        if redis_server.proc is None:
            redis_server.start()


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database on the session's PostgreSQL server, dropped afterwards."""
    import asyncpg

    name = "t_" + secrets.token_hex(6)

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(postgres_server.url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def admin(sql: str) -> None:
        # In a thread of its own: the fixture may be set up inside a running event loop.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, run(sql)).result()

    admin(f"CREATE DATABASE {name}")
    yield postgres_server.url.rpartition("/")[0] + "/" + name
    admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
