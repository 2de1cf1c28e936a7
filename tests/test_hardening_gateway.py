"""Issue 16, the gateway's side: every finding of the adversarial review, one test (or a few)
each, against the ASGI app or a live gateway in front of fake upstreams on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import gc
import gzip
import socket
import threading
import tracemalloc
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai
import orjson
import pytest

from polymux.server import Gateway, GatewayConfig, create_app
from polymux.server.asgi import read_body
from polymux.server.config import ProviderConfig, parse_config
from polymux.server.limits import Limits
from polymux.server.run import uvicorn_config
from polymux.server.store import Store
from polymux.transport.deadline import DeadlineWatcher

from .fakes import FakeServer
from .fakes.openai import CHAT, IMAGES, MODELS, chunk, error, models, reply, stream_text
from .fakes.server import json, stall, stream_bytes
from .server_harness import LiveGateway, asgi_request, fake_config

HELLO = {"model": "m1", "messages": [{"role": "user", "content": "hi"}]}
CHAT_PATH = "/v1/chat/completions"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


async def make_app(upstream: FakeServer, tmp_path: Path, **overrides: Any) -> Gateway:
    config = fake_config(upstream, **overrides)
    return create_app(config, db_path=tmp_path / "g.db", key_refresh=0)


def code_of(body: bytes) -> str:
    return str(orjson.loads(body)["error"]["code"])


# -- 1. no-key mode: Host, Origin, content type ---------------------------------------------------
@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ([("Host", "attacker.example:1337")], 403, "host_not_allowed"),
        ([("Host", "127.0.0.1.nip.io")], 403, "host_not_allowed"),
        ([("Origin", "https://attacker.example")], 403, "origin_not_allowed"),
        ([("Origin", "null")], 403, "origin_not_allowed"),
        ([("Content-Type", "text/plain")], 415, "unsupported_media_type"),
        ([("Content-Type", "application/x-www-form-urlencoded")], 415, "unsupported_media_type"),
    ],
)
async def test_no_key_mode_refuses_cross_site_and_rebound_requests(
    app: Gateway, upstream: FakeServer, headers: list[tuple[str, str]], status: int, code: str
) -> None:
    got, out, body = await asgi_request(app, "POST", CHAT_PATH, HELLO, headers=headers)
    assert (got, code_of(body)) == (status, code)
    assert upstream.requests == []
    if status == 403:
        assert out["connection"] == "close"


@pytest.mark.parametrize(
    ("path", "origin", "status"),
    [
        (CHAT_PATH, None, 415),  # JSON routes take JSON only
        ("/v1/images/edits", None, 400),  # an upload route reads the form (this one is broken)
        ("/v1/audio/transcriptions", None, 400),
        ("/v1/images/edits", "https://attacker.example", 403),  # a cross-site form is refused
    ],
)
async def test_no_key_mode_takes_multipart_only_on_upload_routes(
    app: Gateway, upstream: FakeServer, path: str, origin: str | None, status: int
) -> None:
    headers = [("Content-Type", "multipart/form-data; boundary=x")]
    if origin:
        headers.append(("Origin", origin))
    got, _, body = await asgi_request(app, "POST", path, HELLO, headers=headers)
    assert got == status, body
    assert upstream.requests == []


@pytest.mark.parametrize(
    "headers",
    [
        [("Host", "localhost:1337")],
        [("Host", "[::1]:1337"), ("Origin", "http://localhost:5173")],
        [("Origin", "http://127.0.0.1:1337"), ("Content-Type", "application/json; charset=utf-8")],
    ],
)
async def test_no_key_mode_serves_local_callers(
    app: Gateway, headers: list[tuple[str, str]]
) -> None:
    status, _, body = await asgi_request(app, "POST", CHAT_PATH, HELLO, headers=headers)
    assert status == 200, body


async def test_public_url_and_cors_origins_are_the_operators_exceptions(
    upstream: FakeServer, tmp_path: Path
) -> None:
    gateway = await make_app(
        upstream,
        tmp_path,
        public_url="https://chat.example.org",
        cors_origins=("https://app.example.org",),
    )
    try:
        headers = [("Host", "chat.example.org"), ("Origin", "https://app.example.org")]
        status, _, _ = await asgi_request(gateway, "POST", CHAT_PATH, HELLO, headers=headers)
        assert status == 200
        headers = [("Host", "chat.example.org"), ("Origin", "https://chat.example.org")]
        status, _, _ = await asgi_request(gateway, "POST", CHAT_PATH, HELLO, headers=headers)
        assert status == 200
    finally:
        await gateway.aclose()


async def test_with_keys_the_host_is_not_checked(app: Gateway, tmp_path: Path) -> None:
    with Store(tmp_path / "g.db") as store:
        key = store.create_key("k")
    headers = [("Host", "gateway.internal"), ("Authorization", f"Bearer {key}")]
    status, _, _ = await asgi_request(app, "POST", CHAT_PATH, HELLO, headers=headers)
    assert status == 200


# -- 4. proxy headers in no-key mode --------------------------------------------------------------
@pytest.mark.parametrize("name", ["X-Forwarded-For", "Forwarded", "X-Real-IP"])
async def test_no_key_mode_refuses_proxied_requests(
    app: Gateway, upstream: FakeServer, name: str
) -> None:
    status, _, body = await asgi_request(
        app, "POST", CHAT_PATH, HELLO, headers=[(name, "203.0.113.9")]
    )
    assert (status, code_of(body)) == (403, "proxy_not_trusted")
    assert upstream.requests == []


async def test_trusted_proxies_are_the_operators_choice(
    upstream: FakeServer, tmp_path: Path
) -> None:
    gateway = await make_app(upstream, tmp_path, trusted_proxies=("127.0.0.1",))
    try:
        status, _, _ = await asgi_request(
            gateway, "POST", CHAT_PATH, HELLO, headers=[("X-Forwarded-For", "127.0.0.1")]
        )
        assert status == 200
    finally:
        await gateway.aclose()
    trusting = uvicorn_config(gateway, fake_config(upstream, trusted_proxies=("10.0.0.2",)))
    assert trusting.proxy_headers and trusting.forwarded_allow_ips == ["10.0.0.2"]
    default = uvicorn_config(gateway, fake_config(upstream))
    assert not default.proxy_headers  # uvicorn's default trusts 127.0.0.1's X-Forwarded-For


# -- 6. slow bodies, connection reuse after refusals, the concurrency limit -----------------------
@pytest.mark.parametrize(
    ("path", "content_type", "limit"),
    [
        (CHAT_PATH, b"application/json", "body_timeout"),
        ("/v1/audio/transcriptions", b"multipart/form-data; boundary=x", "upload_timeout"),
        ("/v1/images/edits", b"multipart/form-data; boundary=x", "upload_timeout"),
    ],
)
async def test_a_body_that_never_arrives_is_timed_out(
    upstream: FakeServer, tmp_path: Path, path: str, content_type: bytes, limit: str
) -> None:
    """A slow sender holds a connection and a slot: JSON bodies have ``body_timeout``,
    multipart uploads (up to the whole body limit of files) the longer ``upload_timeout``."""
    gateway = await make_app(upstream, tmp_path, **{limit: 0.2})
    sent: list[dict[str, Any]] = []
    first = True

    async def receive() -> dict[str, Any]:
        nonlocal first
        if first:  # a byte of the body, then nothing more
            first = False
            return {"type": "http.request", "body": b"{", "more_body": True}
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", content_type),
            (b"content-length", b"1000"),
        ],
        "client": ("127.0.0.1", 5000),
    }
    try:
        await asyncio.wait_for(gateway(scope, receive, send), 10)
    finally:
        await gateway.aclose()
    assert sent[0]["status"] == 408
    assert (b"connection", b"close") in sent[0]["headers"]
    assert code_of(sent[1]["body"]) == "request_timeout"


async def test_a_body_read_cancelled_from_elsewhere_is_a_cancellation_not_a_408() -> None:
    """The body's time limit is a deadline in a shared watcher: a cancellation that is not
    its own (the server shutting down) still cancels, and a limit not reached leaves the
    task able to await afterwards."""
    watcher = DeadlineWatcher(asyncio.get_running_loop())
    scope = {"type": "http", "headers": []}

    async def never() -> dict[str, Any]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    reading = asyncio.ensure_future(read_body(scope, never, 100, 5.0, watcher))
    await asyncio.sleep(0.05)
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading

    async def whole() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    assert await read_body(scope, whole, 100, 0.05, watcher) == b"{}"
    await asyncio.sleep(0.1)  # past the limit: nothing cancels this task now
    watcher.close()


async def test_401_and_413_close_the_connection(upstream: FakeServer, tmp_path: Path) -> None:
    gateway = await make_app(upstream, tmp_path, limits=Limits(max_body_bytes=100))
    try:
        big = {**HELLO, "messages": [{"role": "user", "content": "x" * 200}]}
        status, headers, _ = await asgi_request(gateway, "POST", CHAT_PATH, big)
        assert (status, headers["connection"]) == (413, "close")
        with Store(tmp_path / "g.db") as store:
            store.create_key("k")
        status, headers, _ = await asgi_request(gateway, "POST", CHAT_PATH, HELLO)
        assert (status, headers["connection"]) == (401, "close")
    finally:
        await gateway.aclose()


async def test_requests_over_the_concurrency_limit_get_a_json_503(tmp_path: Path) -> None:
    async with FakeServer() as upstream:
        upstream.script("POST", CHAT, stall(30))
        gateway = await make_app(upstream, tmp_path, max_concurrent_requests=1)
        held = asyncio.ensure_future(asgi_request(gateway, "POST", CHAT_PATH, HELLO))
        while not upstream.requests:
            await asyncio.sleep(0.01)
        status, headers, body = await asgi_request(gateway, "POST", CHAT_PATH, HELLO)
        held.cancel()
        await asyncio.gather(held, return_exceptions=True)
        await gateway.aclose()
    assert (status, code_of(body)) == (503, "overloaded")
    assert headers["retry-after"] == "1"


# -- 7. memory after hostile answers --------------------------------------------------------------
def hostile(kind: str) -> tuple[Any, bool]:
    """An upstream answer over a size cap, and whether the call streams."""
    if kind == "long line":  # one SSE line past the decoder's 16 MiB cap
        line = b"data: " + b"x" * (17 * 1024 * 1024)
        pieces = [line[i : i + 65536] for i in range(0, len(line), 65536)]
        return stream_bytes(pieces), True
    # a gzip bomb: 70 MiB of zeros in about 70 KiB, past the 64 MiB body cap once inflated
    bomb = gzip.compress(b"\0" * (70 * 1024 * 1024), compresslevel=1)
    pieces = [bomb[i : i + 65536] for i in range(0, len(bomb), 65536)]
    return stream_bytes(
        pieces, content_type="application/json", headers={"Content-Encoding": "gzip"}
    ), False


@pytest.mark.parametrize("kind", ["long line", "gzip bomb"])
async def test_a_hostile_answer_leaves_no_memory_behind(tmp_path: Path, kind: str) -> None:
    """An upstream answer over a cap fails the request; with the garbage collector off, what
    the failure held is freed by reference counting alone (no cycle keeps it alive)."""
    action, stream = hostile(kind)
    async with FakeServer() as upstream:
        upstream.script("POST", CHAT, action)
        gateway = await make_app(upstream, tmp_path)
        body = {**HELLO, "stream": stream}
        await asgi_request(gateway, "POST", CHAT_PATH, body)  # warm up: pools, caches
        gc.collect()
        gc.disable()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            status, _, _ = await asgi_request(gateway, "POST", CHAT_PATH, body)
            await asyncio.sleep(0)
            kept = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
            gc.enable()
        await gateway.aclose()
    assert status == 502
    assert kept < 4 * 1024 * 1024, f"{kept} bytes still held after the request"


# -- 8. first-byte and idle limits; the model list ------------------------------------------------
def test_default_upstream_limits() -> None:
    config = GatewayConfig()
    assert (config.connect_timeout, config.first_byte_timeout, config.idle_timeout) == (
        10.0,
        120.0,
        60.0,
    )
    assert config.models_timeout == 5.0 and config.body_timeout == 30.0
    assert config.upload_timeout == 300.0


def two_providers(silent: FakeServer, healthy: FakeServer, **silent_limits: Any) -> GatewayConfig:
    return GatewayConfig(
        providers=(
            ProviderConfig("silent", "openai-compatible", silent.url("/v1"), **silent_limits),
            ProviderConfig("healthy", "openai-compatible", healthy.url("/v1")),
        ),
        aliases={"pair": ("silent/m", "healthy/m")},
        max_retries=0,
    )


@pytest.mark.parametrize("where", ["gateway", "provider"])
async def test_a_silent_provider_does_not_block_its_fallback(tmp_path: Path, where: str) -> None:
    async with FakeServer() as silent, FakeServer() as healthy:
        silent.script("POST", CHAT, stall(30))
        healthy.script("POST", CHAT, reply("from the second"))
        if where == "gateway":
            config = replace(two_providers(silent, healthy), first_byte_timeout=0.3)
        else:
            config = two_providers(silent, healthy, first_byte_timeout=0.3)
        gateway = create_app(config, db_path=tmp_path / "g.db")
        body = {"model": "pair", "messages": HELLO["messages"]}
        status, _, raw = await asgi_request(gateway, "POST", CHAT_PATH, body)
        await gateway.aclose()
    assert status == 200, raw
    assert orjson.loads(raw)["choices"][0]["message"]["content"] == "from the second"


async def test_the_model_list_leaves_a_stalled_provider_out(tmp_path: Path) -> None:
    async with FakeServer() as silent, FakeServer() as healthy:
        silent.script("GET", MODELS, stall(30))
        healthy.script("GET", MODELS, models("h1"))
        config = replace(two_providers(silent, healthy), models_timeout=0.3, aliases={})
        gateway = create_app(config, db_path=tmp_path / "g.db")
        status, _, raw = await asgi_request(gateway, "GET", "/v1/models")
        await gateway.aclose()
    assert status == 200
    assert [m["id"] for m in orjson.loads(raw)["data"]] == ["healthy/h1"]


def test_per_provider_limits_parse() -> None:
    config = parse_config(
        {
            "server": {"first_byte_timeout": 30, "pass_through": ["top_k"]},
            "providers": {
                "a": {
                    "type": "openai-compatible",
                    "base_url": "http://127.0.0.1:9/v1",
                    "max_concurrency": 4,
                    "idle_timeout": 5,
                    "first_byte_timeout": 2.5,
                },
            },
        }
    )
    (a,) = config.providers
    assert (a.max_concurrency, a.idle_timeout, a.first_byte_timeout) == (4, 5, 2.5)
    assert config.first_byte_timeout == 30 and config.pass_through == ("top_k",)


# -- 9. spending limits, passed-through fields, per-provider concurrency --------------------------
@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ({"n": 1000}, "n=1000"),
        ({"max_tokens": 2_000_000}, "max_tokens"),
        ({"max_completion_tokens": 10**9}, "max_completion_tokens"),
        ({"service_tier": "priority"}, "service_tier"),
        ({"store": True}, "store"),
    ],
)
async def test_spending_is_bounded(
    app: Gateway, upstream: FakeServer, extra: dict[str, Any], fragment: str
) -> None:
    status, _, body = await asgi_request(app, "POST", CHAT_PATH, {**HELLO, **extra})
    assert status == 400 and fragment in orjson.loads(body)["error"]["message"]
    assert upstream.requests == []


async def test_the_operator_lists_the_fields_passed_through(
    upstream: FakeServer, tmp_path: Path
) -> None:
    gateway = await make_app(upstream, tmp_path, pass_through=("service_tier",))
    status, _, _ = await asgi_request(
        gateway, "POST", CHAT_PATH, {**HELLO, "service_tier": "flex", "n": 2}
    )
    await gateway.aclose()
    assert status == 200
    assert upstream.requests[0].json["service_tier"] == "flex"


async def test_per_provider_concurrency_limit(tmp_path: Path) -> None:
    inflight = peak = 0
    pair = asyncio.Event()

    async def slow(request: Any) -> Any:
        # Each call waits (up to 2 s) for a second one to be in flight, then a little more:
        # without the limit all eight would pile up here.
        nonlocal inflight, peak
        inflight += 1
        peak = max(peak, inflight)
        if inflight >= 2:
            pair.set()
        await asyncio.wait_for(pair.wait(), 2)
        await asyncio.sleep(0.02)
        inflight -= 1
        return await reply("ok")(request)

    async with FakeServer() as upstream:
        upstream.script("POST", CHAT, slow)
        (spec,) = fake_config(upstream).providers
        config = fake_config(upstream, providers=(replace(spec, max_concurrency=2),))
        gateway = create_app(config, db_path=tmp_path / "g.db")
        results = await asyncio.gather(
            *(asgi_request(gateway, "POST", CHAT_PATH, HELLO) for _ in range(8))
        )
        await gateway.aclose()
    assert [r[0] for r in results] == [200] * 8
    assert peak == 2


# -- 10. retries do not multiply ------------------------------------------------------------------
def test_sdk_clients_are_told_not_to_retry_after_the_gateways_retries(tmp_path: Path) -> None:
    def configure(upstream: FakeServer) -> GatewayConfig:
        return fake_config(upstream, max_retries=2)

    with LiveGateway(tmp_path, configure) as gw:
        gw.upstream.script("POST", CHAT, error(500, headers={"retry-after": "0"}))
        client = openai.OpenAI(base_url=gw.url + "/v1", api_key="unused")  # SDK retries: 2
        with client, pytest.raises(openai.InternalServerError) as caught:
            client.chat.completions.create(model="m1", messages=HELLO["messages"])  # type: ignore[arg-type]
        assert caught.value.response.headers["x-should-retry"] == "false"
        assert len(gw.upstream.requests) == 3  # 1 + the gateway's 2; not 3 x 3


# -- 11. deep JSON, image URLs, uvicorn's parser errors -------------------------------------------
@pytest.mark.parametrize("depth", [65, 300, 1000])
async def test_deep_json_is_a_400(app: Gateway, upstream: FakeServer, depth: int) -> None:
    raw = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "metadata": ' + (
        b"[" * depth + b"]" * depth + b"}"
    )
    status, _, body = await asgi_request(app, "POST", CHAT_PATH, raw=raw)
    assert status == 400 and "nested deeper" in orjson.loads(body)["error"]["message"]
    assert upstream.requests == []


@pytest.mark.parametrize("url", ["http://[::1", "http://a\\b/x.png"])
async def test_a_malformed_image_url_to_download_is_a_400(tmp_path: Path, url: str) -> None:
    """Ollama takes images inline only: the gateway downloads them, and a URL that is no URL
    is the caller's mistake (was a 500 for the first, a DNS lookup of 'a\\b' for the second)."""
    async with FakeServer() as upstream:
        config = GatewayConfig(providers=(ProviderConfig("o", "ollama", upstream.url()),))
        gateway = create_app(config, db_path=tmp_path / "g.db")
        image = {"type": "image_url", "image_url": {"url": url}}
        body = {"model": "llava", "messages": [{"role": "user", "content": [image]}]}
        status, _, raw = await asgi_request(gateway, "POST", CHAT_PATH, body)
        await gateway.aclose()
        assert upstream.requests == []
    assert status == 400, raw
    assert "image URL" in orjson.loads(raw)["error"]["message"]


async def test_a_providers_private_image_url_is_a_502_unless_the_operator_allows_it(
    tmp_path: Path,
) -> None:
    async with FakeServer() as upstream:
        upstream.script("GET", "/img.png", stream_bytes([PNG], content_type="image/png"))
        answer = {"created": 1, "data": [{"url": upstream.url("/img.png")}]}
        upstream.script("POST", IMAGES, json(200, answer))
        body = {"prompt": "cat", "model": "dall-e-3", "response_format": "b64_json"}
        for allowed, expected in ((False, 502), (True, 200)):
            gateway = await make_app(upstream, tmp_path, allow_private_image_urls=allowed)
            status, _, raw = await asgi_request(gateway, "POST", "/v1/images/generations", body)
            await gateway.aclose()
            assert status == expected, raw
        assert base64.b64decode(orjson.loads(raw)["data"][0]["b64_json"]) == PNG


def test_http_parser_errors_are_openai_shaped(tmp_path: Path) -> None:
    with LiveGateway(tmp_path) as gw:
        for raw in (b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"):
            with socket.create_connection(("127.0.0.1", gw.port), timeout=5) as sock:
                sock.sendall(raw)
                answer = b""
                while chunk_ := sock.recv(65536):
                    answer += chunk_
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 400"), answer
            assert b"content-type: application/json" in head.lower()
            error_ = orjson.loads(body)["error"]
            assert set(error_) == {"message", "type", "param", "code"}


# -- 12. shutdown: streams get an error event, every request its usage row ------------------------
def test_shutdown_ends_streams_with_an_error_event_and_logs_them(tmp_path: Path) -> None:
    first = b"data: " + orjson.dumps(chunk({"role": "assistant", "content": "slow"})) + b"\n\n"

    async def held(request: Any) -> Any:
        from aiohttp import web

        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(first)
        for _ in range(3000):
            if request.transport is None or request.transport.is_closing():
                break
            await asyncio.sleep(0.01)
        return resp

    def configure(upstream: FakeServer) -> GatewayConfig:
        return fake_config(upstream, shutdown_timeout=0.3)

    gw = LiveGateway(tmp_path, configure)
    with gw:
        gw.upstream.script("POST", CHAT, held)
        events: list[str] = []
        body = {**HELLO, "stream": True}
        with httpx.stream("POST", gw.url + CHAT_PATH, json=body, timeout=10) as r:
            lines = r.iter_lines()
            for line in lines:
                if line.startswith("data: "):
                    events.append(line)
                    break
            threading.Timer(0.05, gw.stop).start()  # as SIGTERM does
            events += [line for line in lines if line.startswith("data: ")]
    assert '"slow"' in events[0]
    last = orjson.loads(events[-1][len("data: ") :])
    assert last["error"]["code"] == "shutting_down"
    with Store(gw.db_path) as store:
        rows = store.usage_rows()
    assert [(row["status"], row["stream"]) for row in rows] == [(503, 1)]


# -- 13. upstream errors as clients need them; routed models --------------------------------------
async def test_the_upstreams_code_and_param_are_kept(app: Gateway, upstream: FakeServer) -> None:
    upstream.script(
        "POST",
        CHAT,
        json(
            400,
            {
                "error": {
                    "message": "This model's maximum context length is 8192 tokens",
                    "type": "invalid_request_error",
                    "param": "messages",
                    "code": "context_length_exceeded",
                }
            },
        ),
    )
    status, _, body = await asgi_request(app, "POST", CHAT_PATH, HELLO)
    err = orjson.loads(body)["error"]
    assert status == 400
    assert (err["code"], err["param"]) == ("context_length_exceeded", "messages")


async def test_an_upstream_401_is_a_502_with_its_message_redacted(
    app: Gateway, upstream: FakeServer
) -> None:
    upstream.script(
        "POST", CHAT, error(401, "Incorrect API key provided: sk-live-0123456789abcdefgh")
    )
    status, _, body = await asgi_request(app, "POST", CHAT_PATH, HELLO)
    message = orjson.loads(body)["error"]["message"]
    assert status == 502
    assert "Incorrect API key provided" in message and "0123456789abcdefgh" not in message


async def test_routed_models_answer_on_their_own_url(upstream: FakeServer, tmp_path: Path) -> None:
    upstream.script("GET", MODELS, models("listed"))
    gateway = await make_app(upstream, tmp_path, aliases={"fast": ("fake/m1",)})
    try:
        for model_id in ("fast", "fake/anything", "listed"):
            status, _, body = await asgi_request(gateway, "GET", f"/v1/models/{model_id}")
            assert status == 200 and orjson.loads(body)["id"] == model_id
        status, _, _ = await asgi_request(gateway, "GET", "/v1/models/unknown")
        assert status == 404
    finally:
        await gateway.aclose()


# -- 14. an alias named like a registry model -----------------------------------------------------
async def test_an_alias_named_like_a_registry_model_sends_its_target(tmp_path: Path) -> None:
    async with FakeServer() as upstream:
        upstream.script("POST", CHAT, reply("ok"), stream_text(["ok"]))
        config = GatewayConfig(
            providers=(ProviderConfig("openai", "openai-compatible", upstream.url("/v1")),),
            aliases={"gpt-4o": ("openai/my-own-model",)},
            max_retries=0,
        )
        gateway = create_app(config, db_path=tmp_path / "g.db")
        body = {"model": "gpt-4o", "messages": HELLO["messages"]}
        status, _, _ = await asgi_request(gateway, "POST", CHAT_PATH, body)
        status2, _, _ = await asgi_request(gateway, "POST", CHAT_PATH, {**body, "stream": True})
        await gateway.aclose()
    assert (status, status2) == (200, 200)
    assert [r.json["model"] for r in upstream.requests] == ["my-own-model"] * 2


def test_limits_defaults_are_finite() -> None:
    limits = Limits()
    assert (limits.max_n, limits.max_tokens, limits.max_json_depth) == (8, 131072, 64)


# -- found by the schemathesis re-run ------------------------------------------------------------
async def test_integral_floats_are_integers_and_stream_options_are_checked(
    app: Gateway, upstream: FakeServer
) -> None:
    status, _, _ = await asgi_request(app, "POST", CHAT_PATH, {**HELLO, "n": 2.0, "seed": 7.0})
    assert status == 200
    assert (upstream.requests[0].json["n"], upstream.requests[0].json["seed"]) == (2, 7)
    bad = {**HELLO, "stream_options": {"include_usage": {}}}
    status, _, _ = await asgi_request(app, "POST", CHAT_PATH, bad)
    assert status == 400
