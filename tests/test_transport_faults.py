"""Provider faults over real sockets: retries, timeouts, resets, malformed answers, limits.

Every test ends clean: the client closed, no connection open on the fake server, no task
left behind.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from polymux import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APITimeoutError,
    AsyncClient,
    BadRequestError,
    InternalServerError,
    RateLimitError,
    Timeout,
)
from polymux.transport import RetryPolicy
from polymux.transport.http import HttpTransport
from polymux.transport.retry import parse_retry_after

from .fakes import FakeServer, json, reset, sse_data, stall, stream_bytes, text
from .fakes.openai import (
    CHAT,
    StalledListener,
    chunk,
    closed_port,
    error,
    raw_error,
    reply,
    stream_text,
)

# Backoff shrunk so retries do not slow the suite; the policy's rules are unchanged.
FAST = RetryPolicy(initial_delay=0.01, max_delay=0.02)
MSGS = [{"role": "user", "content": "hi"}]
# Each test runs through h1.py's pool and through aiohttp (conftest.py's http_path).
pytestmark = pytest.mark.usefixtures("http_path")


def _client_tasks() -> set[asyncio.Task[Any]]:
    """Tasks other than the test's own and the fake server's request handlers."""
    me = asyncio.current_task()
    return {
        t
        for t in asyncio.all_tasks()
        if t is not me
        and "web_protocol" not in getattr(t.get_coro(), "__qualname__", "")
        and "RequestHandler" not in getattr(t.get_coro(), "__qualname__", "")
    }


class Harness:
    def __init__(self, server: FakeServer, **client: Any) -> None:
        self.server = server
        self.transport = HttpTransport(retry=client.pop("retry", FAST), **client.pop("http", {}))
        self.client = AsyncClient(
            base_url=server.url("/v1"), api_key="sk-test", transport=self.transport, **client
        )

    async def clean(self) -> None:
        """Close everything; then nothing may be left open or running."""
        await self.client.close()
        await self.transport.aclose()
        assert await self.server.wait_idle()
        assert not _client_tasks()


@pytest.fixture
async def server() -> AsyncIterator[FakeServer]:
    async with FakeServer() as fake:
        yield fake


async def _collect(stream: Any) -> tuple[str, BaseException | None]:
    parts: list[str] = []
    try:
        async for c in stream:
            for choice in c.choices:
                parts.append(choice.delta.content or "")
    except Exception as exc:
        return "".join(parts), exc
    return "".join(parts), None


# -- retries ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"retry-after-ms": "20"},
        {"retry-after": "0.02"},
        {"retry-after": "0"},
        {"retry-after": email.utils.formatdate(time.time() - 5, usegmt=True)},  # already due
        {"retry-after": "not a date"},  # unreadable: plain backoff
    ],
    ids=["ms", "seconds", "zero", "http-date", "garbage"],
)
async def test_429_with_retry_after_is_retried_then_succeeds(
    server: FakeServer, headers: dict[str, str]
) -> None:
    h = Harness(server)
    server.script("POST", CHAT, error(429, "slow down", headers=headers), reply("ok"))
    response = await h.client.chat.completions.create(model="m", messages=MSGS)
    assert response.choices[0].message.content == "ok"
    assert len(server.requests) == 2
    await h.clean()


def test_parse_retry_after_reads_every_form() -> None:
    assert parse_retry_after({"retry-after-ms": "1500"}) == 1.5
    assert parse_retry_after({"retry-after-ms": "x", "retry-after": "3"}) == 3.0
    later = parse_retry_after(
        {"retry-after": email.utils.formatdate(time.time() + 30, usegmt=True)}
    )
    assert later is not None and 27 <= later <= 31
    assert parse_retry_after({"retry-after": "Wed, 99 Foo 2024 99:99:99 GMT"}) is None
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


async def test_retry_after_beyond_the_cap_is_not_retried(server: FakeServer) -> None:
    h = Harness(server)
    date = email.utils.formatdate(time.time() + 600, usegmt=True)
    server.script("POST", CHAT, error(429, "quota", headers={"retry-after": date}), reply())
    with pytest.raises(RateLimitError) as info:
        await h.client.chat.completions.create(model="m", messages=MSGS)
    assert len(server.requests) == 1
    assert info.value.retry_after is not None and info.value.retry_after > 500
    assert info.value.status_code == 429 and "quota" in str(info.value)
    await h.clean()


async def test_5xx_then_success_is_retried(server: FakeServer) -> None:
    h = Harness(server)
    server.script("POST", CHAT, error(503, "busy"), error(500, "oops"), reply("fine"))
    response = await h.client.chat.completions.create(model="m", messages=MSGS)
    assert response.choices[0].message.content == "fine"
    assert len(server.requests) == 3
    await h.clean()


async def test_400_is_not_retried(server: FakeServer) -> None:
    h = Harness(server)
    server.script("POST", CHAT, error(400, "bad field", type="invalid_request_error"), reply())
    with pytest.raises(BadRequestError, match="bad field"):
        await h.client.chat.completions.create(model="m", messages=MSGS)
    assert len(server.requests) == 1
    await h.clean()


async def test_x_should_retry_overrides_the_status_rule(server: FakeServer) -> None:
    h = Harness(server)
    server.script(
        "POST", CHAT, error(400, "try again", headers={"x-should-retry": "true"}), reply("yes")
    )
    response = await h.client.chat.completions.create(model="m", messages=MSGS)
    assert response.choices[0].message.content == "yes"
    assert len(server.requests) == 2

    server.requests.clear()
    server.script("POST", CHAT, error(503, "final", headers={"x-should-retry": "false"}), reply())
    with pytest.raises(InternalServerError, match="final"):
        await h.client.chat.completions.create(model="m", messages=MSGS)
    assert len(server.requests) == 1
    await h.clean()


async def test_max_retries_per_client_and_per_call(server: FakeServer) -> None:
    h = Harness(server, max_retries=0)
    server.script("POST", CHAT, error(500, "down"))
    with pytest.raises(InternalServerError):
        await h.client.chat.completions.create(model="m", messages=MSGS)
    assert len(server.requests) == 1

    server.requests.clear()
    with pytest.raises(InternalServerError):
        await h.client.chat.completions.create(model="m", messages=MSGS, max_retries=3)
    assert len(server.requests) == 4

    server.requests.clear()  # streaming opens are retried the same way
    stream = h.client.chat.completions.create(model="m", messages=MSGS, stream=True, max_retries=2)
    with pytest.raises(InternalServerError):
        await stream.collect_text()
    assert len(server.requests) == 3
    await h.clean()


async def test_connection_refused_is_retried_then_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    delays: list[int] = []
    original = RetryPolicy.delay

    def counting(self: RetryPolicy, attempt: int, headers: Any = None) -> float | None:
        delays.append(attempt)
        return original(self, attempt, headers)

    monkeypatch.setattr(RetryPolicy, "delay", counting)
    transport = HttpTransport(retry=FAST)
    client = AsyncClient(
        base_url=f"http://127.0.0.1:{closed_port()}/v1", transport=transport, max_retries=2
    )
    with pytest.raises(APIConnectionError) as info:
        await client.chat.completions.create(model="m", messages=MSGS)
    assert not isinstance(info.value, APITimeoutError)
    assert delays == [0, 1]  # two retries after the first refusal
    await transport.aclose()
    assert not _client_tasks()


async def test_reset_before_the_answer_is_retried(server: FakeServer) -> None:
    h = Harness(server)
    server.script("POST", CHAT, reset(), stream_text(["again"]))
    stream = h.client.chat.completions.create(model="m", messages=MSGS, stream=True)
    assert await stream.collect_text() == "again"
    assert len(server.requests) == 2
    await h.clean()


# -- broken streams -----------------------------------------------------------------------------


def _pieces(texts: list[str]) -> list[bytes]:
    import json as jsonlib

    chunks = [chunk({"role": "assistant", "content": ""})] + [chunk({"content": t}) for t in texts]
    return [f"data: {jsonlib.dumps(c)}\n\n".encode() for c in chunks]


async def test_reset_mid_stream_gives_partial_output_then_error_and_no_retry(
    server: FakeServer,
) -> None:
    h = Harness(server)
    server.script(
        "POST", CHAT, stream_bytes(_pieces(["one ", "two ", "three"]), reset_after=3), reply()
    )
    stream = h.client.chat.completions.create(model="m", messages=MSGS, stream=True)
    got, exc = await _collect(stream)
    assert got == "one two "
    assert isinstance(exc, APIConnectionError) and not isinstance(exc, APITimeoutError)
    assert len(server.requests) == 1  # content flowed: never retried
    await h.clean()


async def test_reset_mid_stream_non_streaming_call_is_a_connection_error(
    server: FakeServer,
) -> None:
    h = Harness(server, max_retries=0)
    body = b'{"id": "x", "choices": [{"index": 0, "message": {"content": "cut'
    server.script(
        "POST", CHAT, stream_bytes([body, b"more"], content_type="application/json", reset_after=1)
    )
    with pytest.raises(APIConnectionError):
        await h.client.chat.completions.create(model="m", messages=MSGS)
    await h.clean()


async def test_malformed_json_answers_are_validation_errors(server: FakeServer) -> None:
    h = Harness(server)
    server.script("POST", CHAT, text(200, "<html>not json</html>", content_type="text/html"))
    with pytest.raises(APIResponseValidationError, match="not json"):
        await h.client.chat.completions.create(model="m", messages=MSGS)
    assert len(server.requests) == 1

    server.script("POST", CHAT, json(200, ["a", "list"]))
    with pytest.raises(APIResponseValidationError):
        await h.client.chat.completions.create(model="m", messages=MSGS)

    # A stream: a broken event, an event that is not an object, a broken unterminated last one.
    for body in (
        b'data: {"choices": [\n\n',
        b"data: [1, 2]\n\n",
        b'data: "text"\n\n',
        b'data: {"choices": [{"index": 0, "delta": {"content": "a"}}]}\n\ndata: {"cho',
        b'data: {"choices": [{"index": 0, "delta": "not a dict"}]}\n\n',
    ):
        server.script("POST", CHAT, stream_bytes([body]))
        stream = h.client.chat.completions.create(model="m", messages=MSGS, stream=True)
        _, exc = await _collect(stream)
        assert isinstance(exc, APIResponseValidationError), (body, exc)
    await h.clean()


async def test_stream_without_done_but_with_finish_reason_completes(server: FakeServer) -> None:
    h = Harness(server)
    server.script(
        "POST",
        CHAT,
        sse_data(
            [chunk({"content": "all "}), chunk({"content": "here"}), chunk({}, "stop")], done=False
        ),
    )
    stream = h.client.chat.completions.create(model="m", messages=MSGS, stream=True)
    assert await stream.collect_text() == "all here"
    await h.clean()


async def test_stream_without_done_or_finish_reason_is_an_error_after_the_text(
    server: FakeServer,
) -> None:
    h = Harness(server)
    server.script(
        "POST", CHAT, sse_data([chunk({"content": "cut "}), chunk({"content": "sho"})], done=False)
    )
    stream = h.client.chat.completions.create(model="m", messages=MSGS, stream=True)
    got, exc = await _collect(stream)
    assert got == "cut sho"
    assert isinstance(exc, APIResponseValidationError) and "cut short" in str(exc)
    assert len(server.requests) == 1
    await h.clean()


async def test_a_bare_json_error_after_the_text_is_raised_as_its_status_error(
    server: FakeServer,
) -> None:
    """A host that writes a plain JSON error object into the stream (outside the SSE
    framing) when it fails: that error is reported instead of a generic cut-short error."""
    failure = b'{\n  "error": {"message": "upstream overloaded", "code": 503}\n}\n'
    server.script("POST", CHAT, stream_bytes([*_pieces(["cut "]), failure]))
    h = Harness(server)
    stream = h.client.chat.completions.create(model="m", messages=MSGS, stream=True)
    got, exc = await _collect(stream)
    assert got == "cut "
    assert isinstance(exc, InternalServerError) and "upstream overloaded" in str(exc)
    await h.clean()


@pytest.mark.parametrize(
    ("error_body", "kind"),
    [
        (
            {"message": "upstream overloaded", "type": "server_error", "code": 503},
            InternalServerError,
        ),
        ({"message": "upstream overloaded", "code": "server_error"}, APIError),
        ("upstream overloaded", APIError),
    ],
    ids=["status-code", "string-code", "string"],
)
async def test_error_event_mid_stream_is_raised_not_yielded(
    server: FakeServer, error_body: Any, kind: type[Exception]
) -> None:
    h = Harness(server)
    server.script(
        "POST",
        CHAT,
        sse_data([chunk({"role": "assistant", "content": "partial"}), {"error": error_body}]),
    )
    stream = h.client.chat.completions.create(model="m", messages=MSGS, stream=True)
    got, exc = await _collect(stream)
    assert got == "partial"
    assert isinstance(exc, kind) and "upstream overloaded" in str(exc)
    assert len(server.requests) == 1
    await h.clean()


async def test_error_object_in_a_200_body_is_raised(server: FakeServer) -> None:
    h = Harness(server)
    server.script("POST", CHAT, json(200, {"error": {"message": "model exploded", "code": 500}}))
    with pytest.raises(InternalServerError, match="model exploded"):
        await h.client.chat.completions.create(model="m", messages=MSGS)
    await h.clean()


# -- timeouts -----------------------------------------------------------------------------------


async def test_slow_first_byte_hits_the_first_byte_limit(server: FakeServer) -> None:
    h = Harness(server, max_retries=1)
    server.script("POST", CHAT, stall(0.5, stream_text(["late"])))
    stream = h.client.chat.completions.create(
        model="m", messages=MSGS, stream=True, timeout=Timeout(first_byte=0.1)
    )
    with pytest.raises(APITimeoutError) as info:
        await stream.collect_text()
    assert info.value.limit == "first_byte" and info.value.seconds == 0.1
    assert "first byte" in str(info.value)
    assert len(server.requests) == 2  # timeouts are retried
    await h.clean()


async def test_slow_chunks_hit_the_idle_limit(server: FakeServer) -> None:
    h = Harness(server)
    server.script("POST", CHAT, stream_bytes(_pieces(["a", "b", "c"]), delay=0.5), reply())
    stream = h.client.chat.completions.create(
        model="m", messages=MSGS, stream=True, timeout=Timeout(idle=0.1)
    )
    got, exc = await _collect(stream)
    assert isinstance(exc, APITimeoutError) and exc.limit == "idle" and exc.seconds == 0.1
    assert got == ""  # only the role chunk arrived in time
    assert len(server.requests) == 1  # the stream was open: not retried
    await h.clean()


async def test_connect_timeout_on_a_full_accept_queue() -> None:
    listener = StalledListener()
    transport = HttpTransport(retry=FAST)
    client = AsyncClient(
        base_url=f"http://127.0.0.1:{listener.port}/v1", transport=transport, max_retries=0
    )
    try:
        with pytest.raises(APITimeoutError) as info:
            await client.chat.completions.create(
                model="m", messages=MSGS, timeout=Timeout(connect=0.1)
            )
        assert info.value.limit == "connect" and info.value.seconds == 0.1
    finally:
        await transport.aclose()
        listener.close()
    assert not _client_tasks()


async def test_total_deadline_spans_retries(server: FakeServer) -> None:
    h = Harness(server, max_retries=10)
    server.script("POST", CHAT, stall(0.15, error(503, "busy")))
    with pytest.raises(APITimeoutError) as info:
        await h.client.chat.completions.create(model="m", messages=MSGS, timeout=Timeout(total=0.4))
    assert info.value.limit == "total"
    # The limit ended the attempts: eleven of 0.15 s each would take 1.65 s (how many fit in
    # 0.4 s depends on the machine's load, so that number is not asserted).
    assert 1 <= len(server.requests) < 11
    await h.clean()


async def test_total_deadline_cuts_a_long_stream(server: FakeServer) -> None:
    h = Harness(server)
    server.script("POST", CHAT, stream_bytes(_pieces(["x"] * 20), delay=0.05))
    stream = h.client.chat.completions.create(
        model="m", messages=MSGS, stream=True, timeout=Timeout(total=0.3)
    )
    got, exc = await _collect(stream)
    assert isinstance(exc, APITimeoutError) and exc.limit == "total"
    assert exc.seconds == 0.3  # the limit that cut the stream, not the idle one
    assert 0 < len(got) < 20
    await h.clean()


# -- size limits --------------------------------------------------------------------------------


async def test_oversized_error_body_is_read_only_up_to_the_cap(server: FakeServer) -> None:
    from polymux.transport.errors import MAX_ERROR_BODY

    h = Harness(server, max_retries=0)
    huge = b'{"error": {"message": "' + b"x" * (4 * MAX_ERROR_BODY) + b'"}}'
    server.script(
        "POST",
        CHAT,
        raw_error(500, [huge[i : i + 8192] for i in range(0, len(huge), 8192)], delay=0),
    )
    with pytest.raises(InternalServerError) as info:
        await h.client.chat.completions.create(model="m", messages=MSGS)
    assert isinstance(info.value.body, str) and len(info.value.body) <= MAX_ERROR_BODY
    await h.clean()


async def test_error_body_in_several_writes_is_read_whole(server: FakeServer) -> None:
    h = Harness(server, max_retries=0)
    server.script(
        "POST",
        CHAT,
        raw_error(429, [b'{"error": {"message": "rate', b' limited", "type": "requests"}}']),
    )
    with pytest.raises(RateLimitError) as info:
        await h.client.chat.completions.create(model="m", messages=MSGS)
    assert info.value.message == "rate limited"
    assert info.value.body == {"error": {"message": "rate limited", "type": "requests"}}
    await h.clean()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_oversized_success_body_is_rejected(server: FakeServer, chunked: bool) -> None:
    h = Harness(server, http={"max_body": 4096})
    big = reply("y" * 10_000)
    if chunked:
        import json as jsonlib

        from .fakes.openai import completion

        raw = jsonlib.dumps(completion("y" * 10_000)).encode()
        big = stream_bytes(
            [raw[i : i + 1000] for i in range(0, len(raw), 1000)], content_type="application/json"
        )
    server.script("POST", CHAT, big)
    with pytest.raises(APIResponseValidationError, match="4096-byte limit"):
        await h.client.chat.completions.create(model="m", messages=MSGS)
    assert len(server.requests) == 1
    await h.clean()


# -- nothing left open ----------------------------------------------------------------------------


async def test_early_break_then_close_releases_the_connection(server: FakeServer) -> None:
    h = Harness(server)
    server.script("POST", CHAT, stream_bytes(_pieces(["a"] * 50), delay=0.01))
    stream = h.client.chat.completions.create(model="m", messages=MSGS, stream=True)
    async for _ in stream:
        break
    await stream.aclose()
    assert await server.wait_idle()  # closed, not parked in the pool: the upstream stops
    async with h.client.chat.completions.create(model="m", messages=MSGS, stream=True) as s2:
        async for _ in s2:
            break
    assert await server.wait_idle()
    await h.clean()


async def test_cancelling_the_reading_task_closes_the_connection(server: FakeServer) -> None:
    h = Harness(server)
    server.script("POST", CHAT, stream_bytes(_pieces(["a"] * 100), delay=0.02))
    first = asyncio.Event()

    async def read() -> None:
        async for _ in h.client.chat.completions.create(model="m", messages=MSGS, stream=True):
            first.set()

    task = asyncio.create_task(read())
    await first.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await server.wait_idle()
    await h.clean()


async def test_cancel_during_retry_backoff_leaves_nothing(server: FakeServer) -> None:
    h = Harness(server)
    server.script("POST", CHAT, error(429, "wait", headers={"retry-after": "30"}))
    task = asyncio.create_task(h.client.chat.completions.create(model="m", messages=MSGS))
    while not server.requests:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(server.requests) == 1
    await h.clean()


async def test_full_stream_pools_the_connection_until_close(server: FakeServer) -> None:
    h = Harness(server)
    server.script("POST", CHAT, stream_text(["a", "b"]))
    for _ in range(3):
        stream = h.client.chat.completions.create(model="m", messages=MSGS, stream=True)
        assert await stream.collect_text() == "ab"
    assert server.open_connections == 1  # one keep-alive connection, reused
    await h.clean()


async def test_one_client_serves_event_loop_after_event_loop(server: FakeServer) -> None:
    """A pool belongs to the loop it was opened in. A client used under one event loop, which
    is then only stopped (not closed), and then under another opens a fresh pool in the new
    loop and answers there; the first pool stays the first loop's to close."""
    server.script("POST", CHAT, reply("one"), reply("two"))
    transport = HttpTransport(retry=FAST)
    client = AsyncClient(base_url=server.url("/v1"), api_key="sk-test", transport=transport)

    async def ask() -> str | None:
        response = await client.chat.completions.create(model="m", messages=MSGS)
        return response.choices[0].message.content

    def in_a_thread() -> list[str | None]:
        first = asyncio.new_event_loop()
        answers = [first.run_until_complete(ask())]
        pool, h1 = transport._session, transport._h1
        assert pool is not None and h1 is not None

        async def in_a_new_loop() -> str | None:
            answer = await ask()
            assert transport._session is not pool  # the stopped loop's pool is not used
            await transport.aclose()
            return answer

        answers.append(asyncio.run(in_a_new_loop()))
        assert not pool.closed
        first.run_until_complete(pool.close())
        first.run_until_complete(h1.close())
        first.close()
        return answers

    assert await asyncio.to_thread(in_a_thread) == ["one", "two"]
    assert await server.wait_idle()
