"""Proxies: ``proxy=`` per client and per call, and HTTP(S)_PROXY from the environment.

A second FakeServer plays the proxy: aiohttp sends it absolute-form requests for the
upstream, and it answers them itself, so a request that reached it was routed through it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from polymux import AsyncClient

from .fakes import FakeServer
from .fakes.openai import CHAT, reply, stream_text

MSGS = [{"role": "user", "content": "hi"}]


@pytest.fixture
async def servers() -> AsyncIterator[tuple[FakeServer, FakeServer]]:
    async with FakeServer() as upstream, FakeServer() as proxy:
        upstream.script("POST", CHAT, reply("direct"))
        proxy.script("POST", CHAT, reply("via proxy"), stream_text(["via ", "proxy"]))
        yield upstream, proxy


def _through(proxy: FakeServer, upstream: FakeServer) -> None:
    """Every request the proxy saw was addressed to the upstream."""
    assert proxy.requests
    for sent in proxy.requests:
        assert sent.headers["Host"] == f"127.0.0.1:{upstream.port}"
        assert sent.headers["Authorization"] == "Bearer k"


async def test_proxy_per_client(servers: tuple[FakeServer, FakeServer]) -> None:
    upstream, proxy = servers
    async with AsyncClient(base_url=upstream.url("/v1"), api_key="k", proxy=proxy.url()) as client:
        response = await client.chat.completions.create(model="m", messages=MSGS)
        stream = client.chat.completions.create(model="m", messages=MSGS, stream=True)
        assert await stream.collect_text() == "via proxy"
    assert response.choices[0].message.content == "via proxy"
    assert not upstream.requests and len(proxy.requests) == 2
    _through(proxy, upstream)
    assert await proxy.wait_idle()


async def test_proxy_per_call(servers: tuple[FakeServer, FakeServer]) -> None:
    upstream, proxy = servers
    async with AsyncClient(base_url=upstream.url("/v1"), api_key="k") as client:
        direct = await client.chat.completions.create(model="m", messages=MSGS)
        proxied = await client.chat.completions.create(model="m", messages=MSGS, proxy=proxy.url())
    assert direct.choices[0].message.content == "direct"
    assert proxied.choices[0].message.content == "via proxy"
    assert len(upstream.requests) == 1 and len(proxy.requests) == 1
    _through(proxy, upstream)


async def test_http_proxy_from_environment(
    servers: tuple[FakeServer, FakeServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    upstream, proxy = servers
    for var in ("NO_PROXY", "no_proxy", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy.url())
    async with AsyncClient(base_url=upstream.url("/v1"), api_key="k") as client:
        response = await client.chat.completions.create(model="m", messages=MSGS)
    assert response.choices[0].message.content == "via proxy"
    assert not upstream.requests
    _through(proxy, upstream)

    # NO_PROXY is honoured too.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    async with AsyncClient(base_url=upstream.url("/v1"), api_key="k") as client:
        response = await client.chat.completions.create(model="m", messages=MSGS)
    assert response.choices[0].message.content == "direct"
