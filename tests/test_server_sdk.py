"""The official openai SDK (sync and async) against a live gateway fronting a fake upstream."""

from __future__ import annotations

import asyncio
import base64
import socket
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai
import orjson
import pytest
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam

from .fakes.openai import (
    CHAT,
    IMAGES,
    MODELS,
    chunk,
    error,
    models,
    reply,
    stream_text,
    text_chunks,
)
from .fakes.server import json, sse_data, stall
from .server_harness import LiveGateway, fake_config

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]


@pytest.fixture
def gw(tmp_path: Path) -> Any:
    with LiveGateway(tmp_path) as gateway:
        yield gateway


def sdk(gw: LiveGateway, **kwargs: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key="unused", max_retries=0, **kwargs)


def test_chat_round_trip_reaches_upstream_and_is_logged(gw: LiveGateway) -> None:
    gw.upstream.script("POST", CHAT, reply("Hi there"))
    with sdk(gw) as client:
        r = client.chat.completions.create(model="m1", messages=HELLO, temperature=0.3, seed=7)
    assert r.choices[0].message.content == "Hi there"
    assert r.usage is not None and r.usage.total_tokens == 15
    sent = gw.upstream.requests[0].json
    assert sent["model"] == "m1" and sent["temperature"] == 0.3 and sent["seed"] == 7
    # The gateway's own Bearer token is not forwarded upstream.
    assert "Authorization" not in gw.upstream.requests[0].headers
    (row,) = gw.usage_rows()
    assert row["status"] == 200 and row["model"] == "m1" and row["provider"] == "fake"
    assert row["total_tokens"] == 15 and row["latency_ms"] > 0
    assert row["request"] is None and row["response"] is None  # content not stored by default


def test_unknown_fields_are_forwarded_to_the_upstream(gw: LiveGateway) -> None:
    gw.upstream.script("POST", CHAT, reply("ok"))
    with sdk(gw) as client:
        client.chat.completions.create(
            model="m1", messages=HELLO, logprobs=True, extra_body={"top_k": 3}
        )
    sent = gw.upstream.requests[0].json
    assert sent["logprobs"] is True and sent["top_k"] == 3


def test_streaming_passes_chunks_and_usage_only_when_asked(gw: LiveGateway) -> None:
    gw.upstream.script("POST", CHAT, stream_text(["Hel", "lo", "!"]))
    with sdk(gw) as client:
        chunks = list(client.chat.completions.create(model="m1", messages=HELLO, stream=True))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == "Hello!"
        assert all(c.usage is None for c in chunks)
        assert chunks[-1].choices[0].finish_reason == "stop"
        with_usage = list(
            client.chat.completions.create(
                model="m1", messages=HELLO, stream=True, stream_options={"include_usage": True}
            )
        )
    assert with_usage[-1].usage is not None and with_usage[-1].usage.prompt_tokens == 9
    rows = gw.usage_rows()
    # Usage is logged for both, whether or not the caller asked for it.
    assert [r["total_tokens"] for r in rows] == [12, 12]
    assert all(r["stream"] == 1 and r["ttft_ms"] is not None for r in rows)


def test_stream_chunks_arrive_before_the_upstream_finishes(gw: LiveGateway) -> None:
    gate = threading.Event()
    gw.upstream.script("POST", CHAT, sse_data(text_chunks(["first", "second"]), delay=0.4))
    with sdk(gw) as client:
        stream = client.chat.completions.create(model="m1", messages=HELLO, stream=True)
        seen: list[str] = []
        for c in stream:
            if c.choices and c.choices[0].delta.content:
                seen.append(c.choices[0].delta.content)
                if len(seen) == 1:
                    # The upstream is still sleeping before its next write: not buffered.
                    assert len(gw.upstream.requests) == 1
                    gate.set()
    assert seen == ["first", "second"] and gate.is_set()


def test_tool_calls_round_trip(gw: LiveGateway) -> None:
    call = {"index": 0, "id": "call_1", "type": "function"}
    gw.upstream.script(
        "POST",
        CHAT,
        sse_data(
            [
                chunk({"role": "assistant", "tool_calls": [{**call, "function": {"name": "f"}}]}),
                chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a":'}}]}),
                chunk({"tool_calls": [{"index": 0, "function": {"arguments": " 1}"}}]}),
                chunk({}, "tool_calls"),
            ]
        ),
    )
    tools: list[ChatCompletionToolParam] = [
        {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    ]
    with sdk(gw) as client:
        parts = list(
            client.chat.completions.create(model="m1", messages=HELLO, tools=tools, stream=True)
        )
    args = "".join(
        tc.function.arguments or ""
        for c in parts
        if c.choices and c.choices[0].delta.tool_calls
        for tc in c.choices[0].delta.tool_calls
        if tc.function
    )
    assert args == '{"a": 1}'
    assert parts[-1].choices[0].finish_reason == "tool_calls"
    assert gw.upstream.requests[0].json["tools"][0]["function"]["name"] == "f"


async def test_async_sdk_chat_stream_and_models(gw: LiveGateway) -> None:
    gw.upstream.script("POST", CHAT, stream_text(["a", "b"]))
    gw.upstream.script("GET", MODELS, models("m1", "m2"))
    async with openai.AsyncOpenAI(base_url=gw.url + "/v1", api_key="x", max_retries=0) as client:
        stream = await client.chat.completions.create(model="m1", messages=HELLO, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        listed = await client.models.list()
        one = await client.models.retrieve("m2")
        with pytest.raises(openai.NotFoundError) as info:
            await client.models.retrieve("nope")
    assert text == "ab"
    assert [m.id for m in listed.data] == ["m1", "m2"]
    assert one.id == "m2" and one.owned_by == "fake"
    assert info.value.body["code"] == "model_not_found"  # type: ignore[index]


def test_images_b64_and_media_urls(tmp_path: Path) -> None:
    media = tmp_path / "media"

    def configure(upstream: Any) -> Any:
        return fake_config(upstream, media_dir=media)

    with LiveGateway(tmp_path, configure) as gw:
        b64 = base64.b64encode(PNG).decode()
        gw.upstream.script("POST", IMAGES, json(200, {"created": 1, "data": [{"b64_json": b64}]}))
        with sdk(gw) as client:
            as_b64 = client.images.generate(prompt="a cat", response_format="b64_json")
            as_url = client.images.generate(prompt="a cat", n=1)
        assert as_b64.data and base64.b64decode(as_b64.data[0].b64_json or "") == PNG
        url = as_url.data[0].url if as_url.data else None
        assert url is not None and url.startswith(gw.url + "/media/image_")
        assert as_url.data and "path" not in as_url.data[0].model_dump()  # paths never leave
        got = httpx.get(url)
        assert got.status_code == 200 and got.content == PNG
        assert got.headers["content-type"] == "image/png"
        # Both answers were saved under generated names; the URL names one of them.
        saved = {p.name for p in media.iterdir()}
        assert len(saved) == 2 and Path(url).name in saved


@pytest.mark.parametrize(
    ("upstream", "exc", "status"),
    [
        (error(400, "bad thing", type="invalid_request_error"), openai.BadRequestError, 400),
        (error(404, "no such model"), openai.NotFoundError, 404),
        (error(429, "slow down", headers={"retry-after": "7"}), openai.RateLimitError, 429),
        (error(500, "upstream broke"), openai.APIStatusError, 502),
        (error(503, "overloaded"), openai.APIStatusError, 502),
    ],
)
def test_upstream_errors_map_to_statuses(
    gw: LiveGateway, upstream: Any, exc: type[Exception], status: int
) -> None:
    gw.upstream.script("POST", CHAT, upstream)
    with sdk(gw) as client, pytest.raises(exc) as info:
        client.chat.completions.create(model="m1", messages=HELLO)
    err = info.value
    assert isinstance(err, openai.APIStatusError) and err.status_code == status
    assert isinstance(err.body, dict)
    assert set(err.body) == {"message", "type", "param", "code"}
    if status == 429:
        assert err.response.headers["retry-after"] == "7"
    assert gw.usage_rows()[0]["status"] == status


def test_upstream_timeout_is_504(tmp_path: Path) -> None:
    def configure(upstream: Any) -> Any:
        return fake_config(upstream, upstream_timeout=0.2)

    with LiveGateway(tmp_path, configure) as gw:
        gw.upstream.script("POST", CHAT, stall(2.0))
        with sdk(gw) as client, pytest.raises(openai.APIStatusError) as info:
            client.chat.completions.create(model="m1", messages=HELLO)
    assert info.value.status_code == 504
    assert info.value.body["type"] == "timeout"  # type: ignore[index]


def test_unreachable_upstream_is_502(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]  # closed when the block ends: nothing listens there

    def configure(upstream: Any) -> Any:
        config = fake_config(upstream)
        p = replace(config.providers[0], base_url=f"http://127.0.0.1:{dead}/v1")
        return replace(config, providers=(p,))

    with (
        LiveGateway(tmp_path, configure) as gw,
        sdk(gw) as client,
        pytest.raises(openai.APIStatusError) as info,
    ):
        client.chat.completions.create(model="m1", messages=HELLO)
    assert info.value.status_code == 502


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"messages": "not a list", "model": "m"}, None),
        ({"model": "m", "messages": []}, "empty"),
        ({"model": 5, "messages": HELLO}, "model must be a string"),
        ({"model": "m", "messages": HELLO, "temperature": 9}, "temperature"),
        ({"model": "m", "messages": HELLO, "stream": "yes"}, "stream"),
        ({"model": "m", "messages": [{"role": "wizard", "content": "x"}]}, "role"),
        ({"model": "m", "messages": HELLO, "tools": [{"nope": 1}]}, "tools"),
        ({"model": "m", "messages": HELLO, "user": 12}, "user"),
    ],
)
def test_bad_bodies_are_400_and_never_reach_upstream(
    gw: LiveGateway, body: dict[str, Any], fragment: str | None
) -> None:
    r = httpx.post(gw.url + "/v1/chat/completions", json=body)
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error"
    if fragment:
        assert fragment in err["message"]
    assert gw.upstream.requests == []


JSON_BODY = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("raw", "status"),
    [(b"{not json", 400), (b"[1, 2]", 400), (b"", 400), (b'{"a": 1' + b" " * 10, 400)],
)
def test_malformed_json_is_400(gw: LiveGateway, raw: bytes, status: int) -> None:
    r = httpx.post(gw.url + "/v1/chat/completions", content=raw, headers=JSON_BODY)
    assert r.status_code == status and r.json()["error"]["message"]


def test_limits_give_413_and_400(tmp_path: Path) -> None:
    from polymux.server.limits import Limits

    def configure(upstream: Any) -> Any:
        return fake_config(
            upstream,
            limits=Limits(max_body_bytes=4000, max_messages=3, max_images=1, max_image_bytes=300),
        )

    image = "data:image/png;base64," + base64.b64encode(PNG * 20).decode()
    with LiveGateway(tmp_path, configure) as gw:
        big = httpx.post(
            gw.url + "/v1/chat/completions", content=b"{" + b" " * 5000 + b"}", headers=JSON_BODY
        )
        many = httpx.post(
            gw.url + "/v1/chat/completions", json={"model": "m", "messages": HELLO * 4}
        )
        part = {"type": "image_url", "image_url": {"url": image}}
        fat = httpx.post(
            gw.url + "/v1/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": [part]}]},
        )
        two = {"role": "user", "content": [part | {"image_url": {"url": "http://x/a.png"}}] * 2}
        count = httpx.post(gw.url + "/v1/chat/completions", json={"model": "m", "messages": [two]})
        side = httpx.post(
            gw.url + "/v1/images/generations", json={"prompt": "x", "size": "9000x9000"}
        )
        assert not gw.upstream.requests
    assert big.status_code == 413 and big.json()["error"]["code"] == "request_too_large"
    assert many.status_code == 400 and "too many messages" in many.json()["error"]["message"]
    assert fat.status_code == 413
    assert count.status_code == 400 and "too many images" in count.json()["error"]["message"]
    assert side.status_code == 400 and "4096" in side.json()["error"]["message"]


def test_routes_and_methods(gw: LiveGateway) -> None:
    assert httpx.get(gw.url + "/health").json()["status"] == "ok"
    missing = httpx.get(gw.url + "/v2/nothing")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "unknown_url"
    wrong = httpx.get(gw.url + "/v1/chat/completions")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
    assert httpx.get(gw.url + "/openapi.json").json()["openapi"].startswith("3.")


def test_error_after_stream_began_is_an_sse_error_event(gw: LiveGateway) -> None:
    # Two chunks, then the upstream drops the connection mid-answer.
    gw.upstream.script("POST", CHAT, sse_data(text_chunks(["one"]), reset_after=2, delay=0.05))
    with httpx.stream(
        "POST",
        gw.url + "/v1/chat/completions",
        json={"model": "m", "messages": HELLO, "stream": True},
    ) as r:
        assert r.status_code == 200
        events = [line for line in r.iter_lines() if line.startswith("data: ")]
    assert any('"one"' in event for event in events[:-1])  # the answer began
    assert events[-1].startswith('data: {"error"')
    assert "[DONE]" not in events[-1]
    with sdk(gw) as client, pytest.raises(openai.APIError):
        list(client.chat.completions.create(model="m1", messages=HELLO, stream=True))
    assert gw.usage_rows()[0]["status"] == 502


class HeldStream:
    """An upstream that sends ``first`` (or nothing) and then holds the response open for
    30 s, counting its open connections: the count drops when the gateway closes its side."""

    def __init__(self, first: bytes | None) -> None:
        self.first = first
        self.open = 0

    async def __call__(self, request: Any) -> Any:
        from aiohttp import web

        self.open += 1
        try:
            resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await resp.prepare(request)
            if self.first:
                await resp.write(self.first)
            for _ in range(3000):
                transport = request.transport
                if transport is None or transport.is_closing():
                    return resp
                await asyncio.sleep(0.01)
            return resp
        finally:
            self.open -= 1


@pytest.mark.parametrize("started", [True, False])
def test_client_disconnect_cancels_the_upstream_at_once(gw: LiveGateway, started: bool) -> None:
    first = chunk({"role": "assistant", "content": "slow"})
    upstream = HeldStream(b"data: " + orjson.dumps(first) + b"\n\n" if started else None)
    gw.upstream.script("POST", CHAT, upstream)
    body = {"model": "m", "messages": HELLO, "stream": True}
    if started:
        with httpx.stream("POST", gw.url + "/v1/chat/completions", json=body) as r:
            assert "slow" in next(r.iter_lines())
            assert upstream.open == 1
    else:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(gw.url + "/v1/chat/completions", json=body, timeout=0.3)
        assert upstream.open == 1
    # The client closed its connection: the gateway closes its upstream one, long before 30 s
    # (the bound is loose so a loaded machine does not fail it; a leak would hold it 30 s).
    deadline = time.monotonic() + 10
    while upstream.open and time.monotonic() < deadline:
        time.sleep(0.01)
    assert upstream.open == 0
    assert gw.usage_rows()[0]["status"] == 499


def test_graceful_shutdown_finishes_in_flight_and_refuses_new(tmp_path: Path) -> None:
    with LiveGateway(tmp_path, timeout_graceful_shutdown=5) as gw:
        gw.upstream.script("POST", CHAT, stall(0.6, reply("finished")))
        result: dict[str, Any] = {}

        def slow_call() -> None:
            with sdk(gw) as client:
                r = client.chat.completions.create(model="m1", messages=HELLO)
                result["text"] = r.choices[0].message.content

        worker = threading.Thread(target=slow_call)
        worker.start()
        while not gw.upstream.requests:
            time.sleep(0.01)
        gw.stop()
        refused = None
        deadline = time.monotonic() + 3
        while refused is None and time.monotonic() < deadline:
            try:
                httpx.get(gw.url + "/health", timeout=0.5)
            # Refused outright, or accepted in the instant before the listener closed and
            # then dropped unanswered: either way no new request is served.
            except (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError) as exc:
                refused = exc
            else:
                time.sleep(0.02)
        worker.join(5)
    assert result == {"text": "finished"}
    assert refused is not None
