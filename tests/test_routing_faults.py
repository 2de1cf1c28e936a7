"""The fault matrix: each upstream fault, at each position of a fallback list, over real
sockets to fake OpenAI-compatible hosts on 127.0.0.1.

Providers before the faulty one answer 500 (so routing reaches it); those after it answer.
A fault before any content moves on to the next provider (or, at the end of the list, ends
in ``AllProvidersFailedError`` carrying each failure in order); a fault after content gives
the caller the partial output, then the typed error. Every case ends with no connection
left open on the fake server and no task left running. ``max_retries=0`` keeps transport
retries out of the picture; they are tested on their own at the end.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import socket
from collections.abc import Sequence
from typing import Any

import pytest
from aiohttp import web

from polymux import (
    AllProvidersFailedError,
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    AsyncClient,
    EmptyResponseError,
    InternalServerError,
    RateLimitError,
    Timeout,
)
from polymux.errors import ProviderCooldownError
from polymux.providers.openai import OpenAICompatible

from .fakes import FakeServer, reset, sse_data, stream_bytes
from .fakes.openai import chunk, completion, error, reply, stream_text, text_chunks
from .fakes.server import Action, json
from .support import Clock

LIMITS = Timeout(total=10, connect=1, first_byte=0.3, idle=0.3)
SLOW = 5.0  # how long a stalling fake waits: far beyond the limits above

# The SSE events of an answer "partial" that is cut before its finish chunk and [DONE].
PARTIAL = [chunk({"role": "assistant", "content": ""}), chunk({"content": "par"})]
PARTIAL.append(chunk({"content": "tial"}))


def sse_pieces(payloads: Sequence[Any], *, done: bool = True) -> list[bytes]:
    pieces = [f"data: {jsonlib.dumps(p)}\n\n".encode() for p in payloads]
    return [*pieces, b"data: [DONE]\n\n"] if done else pieces


async def sleep_unless_gone(request: web.Request, seconds: float) -> bool:
    """Sleep, waking early when the client closes the connection: the fake server counts a
    connection as open until its handler returns, so a handler that slept on after the
    client left would look like a leak. True if the client is still there."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        if request.transport is None or request.transport.is_closing():
            return False
        await asyncio.sleep(0.01)
    return True


def stall_first(seconds: float, then: Action) -> Action:
    """No response at all for ``seconds`` (no first byte), then ``then``."""

    async def act(request: web.Request) -> web.StreamResponse:
        if not await sleep_unless_gone(request, seconds):
            return web.Response(status=499)
        return await then(request)

    return act


def pause_after(pieces: Sequence[bytes], count: int, seconds: float) -> Action:
    """Send ``count`` pieces, stall ``seconds``, then the rest."""

    async def act(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for i, piece in enumerate(pieces):
            if i == count and not await sleep_unless_gone(request, seconds):
                return resp
            await resp.write(piece)
        await resp.write_eof()
        return resp

    return act


def reset_after_pause(pieces: Sequence[bytes], seconds: float = 0.1) -> Action:
    """Send the pieces, give the client time to read them, then drop the connection. (A reset
    right after the writes may make the client's kernel discard data not yet read.)"""

    async def act(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for piece in pieces:
            await resp.write(piece)
        await asyncio.sleep(seconds)
        assert request.transport is not None
        request.transport.abort()
        return resp

    return act


REFUSED = None  # no server at all: the provider points at a closed port

# fault -> (streamed action, outcome, error type, partial text)
#   outcome "next": fails before content; "partial": content, then the error.
STREAM_FAULTS: dict[str, tuple[Action | None, str, type[Exception], str]] = {
    "refused connection": (REFUSED, "next", APIConnectionError, ""),
    "reset before headers": (reset(), "next", APIConnectionError, ""),
    "reset mid-stream": (
        reset_after_pause(sse_pieces(PARTIAL, done=False)),
        "partial",
        APIConnectionError,
        "partial",
    ),
    "429 with retry-after": (
        error(429, "slow down", headers={"retry-after": "7"}),
        "next",
        RateLimitError,
        "",
    ),
    "500": (error(500, "boom"), "next", InternalServerError, ""),
    "503": (error(503, "overloaded"), "next", InternalServerError, ""),
    "malformed JSON": (sse_data(["{not json"]), "next", APIResponseValidationError, ""),
    "stream without its terminator": (
        sse_data(PARTIAL, done=False),
        "partial",
        APIResponseValidationError,
        "partial",
    ),
    "no first byte": (stall_first(SLOW, stream_text(["late"])), "next", APITimeoutError, ""),
    "stall between chunks": (
        pause_after(sse_pieces([*PARTIAL, chunk({}, "stop")]), 2, SLOW),
        "partial",
        APITimeoutError,
        "par",
    ),
    "empty answer": (sse_data(text_chunks([])), "next", EmptyResponseError, ""),
}

# The same faults for a non-streamed call: nothing reaches the caller before the whole
# answer, so every fault moves on.
COMPLETE_FAULTS: dict[str, tuple[Action | None, type[Exception]]] = {
    "refused connection": (REFUSED, APIConnectionError),
    "reset before headers": (reset(), APIConnectionError),
    "reset mid-body": (
        stream_bytes([b'{"id": "x", "choices": ['], reset_after=1, content_type="application/json"),
        APIConnectionError,
    ),
    "429 with retry-after": (error(429, headers={"retry-after": "7"}), RateLimitError),
    "500": (error(500), InternalServerError),
    "503": (error(503), InternalServerError),
    "malformed JSON": (
        stream_bytes([b"{not json"], content_type="application/json"),
        APIResponseValidationError,
    ),
    "no first byte": (stall_first(SLOW, reply("late")), APITimeoutError),
    "empty answer": (json(200, completion("")), EmptyResponseError),
}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def chat_path(i: int) -> str:
    return f"/p{i}/v1/chat/completions"


def providers(server: FakeServer, faulty: int, refused: bool) -> list[OpenAICompatible]:
    out = []
    for i in range(3):
        url = server.url(f"/p{i}/v1")
        if i == faulty and refused:
            url = f"http://127.0.0.1:{closed_port()}/v1"
        out.append(OpenAICompatible(base_url=url, api_key="sk-fake", name=f"p{i}"))
    return out


def leaked_tasks() -> list[asyncio.Task[Any]]:
    """Tasks still running, other than this test's and the fake server's own handlers."""
    leaked = []
    for task in asyncio.all_tasks():
        if task is asyncio.current_task():
            continue
        code = getattr(task.get_coro(), "cr_code", None)
        if code is not None and "aiohttp/web_protocol" in code.co_filename:
            continue  # a server-side request handler (the fake's), not ours
        leaked.append(task)
    return leaked


async def open_at_most(server: FakeServer, count: int, timeout: float = 3.0) -> bool:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while server.open_connections > count and loop.time() < end:
        await asyncio.sleep(0.01)
    return server.open_connections <= count


async def read_stream(client: AsyncClient) -> tuple[str, BaseException | None]:
    text: list[str] = []
    try:
        stream = client.chat.completions.create(model="m", messages="hi", stream=True)
        async for piece in stream:
            if piece.choices and piece.choices[0].delta.content:
                text.append(piece.choices[0].delta.content)
    except Exception as exc:
        return "".join(text), exc
    return "".join(text), None


@pytest.mark.parametrize("position", [0, 1, 2])
@pytest.mark.parametrize("fault", list(STREAM_FAULTS))
async def test_streamed_fault_matrix(fault: str, position: int) -> None:
    action, outcome, error_type, partial = STREAM_FAULTS[fault]
    async with FakeServer() as server:
        for i in range(3):
            if i < position:
                server.script("POST", chat_path(i), error(500, f"p{i} is down"))
            elif i == position and action is not None:
                server.script("POST", chat_path(i), action)
            elif i > position:
                server.script("POST", chat_path(i), stream_text([f"from p{i}"]))
        client = AsyncClient(
            provider=providers(server, position, action is REFUSED), timeout=LIMITS, max_retries=0
        )
        text, exc = await read_stream(client)
        tried = [r.path for r in server.requests]
        await client.close()

        if outcome == "partial":
            assert text == partial
            assert type(exc) is error_type or isinstance(exc, error_type), exc
            assert not isinstance(exc, AllProvidersFailedError)
            expected = list(range(position + 1))
        elif position < 2:
            assert exc is None, exc
            assert text == f"from p{position + 1}"
            expected = list(range(position + 2))
        else:
            assert isinstance(exc, AllProvidersFailedError)
            assert [name for name, _ in exc.errors] == ["p0", "p1", "p2"]
            kinds = [type(err) for _, err in exc.errors]
            assert kinds[:2] == [InternalServerError, InternalServerError]
            assert isinstance(exc.errors[2][1], error_type), exc.errors[2][1]
            if error_type is RateLimitError:
                assert exc.errors[2][1].retry_after == 7  # type: ignore[attr-defined]
            expected = [0, 1, 2]
        if action is REFUSED:
            expected.remove(position)
        assert tried == [chat_path(i) for i in expected]
        assert await server.wait_idle(), f"{server.open_connections} connections left open"
        assert not leaked_tasks()


@pytest.mark.parametrize("position", [0, 2])
@pytest.mark.parametrize("fault", list(COMPLETE_FAULTS))
async def test_non_streamed_fault_matrix(fault: str, position: int) -> None:
    action, error_type = COMPLETE_FAULTS[fault]
    async with FakeServer() as server:
        for i in range(3):
            if i < position:
                server.script("POST", chat_path(i), error(500, f"p{i} is down"))
            elif i == position and action is not None:
                server.script("POST", chat_path(i), action)
            elif i > position:
                server.script("POST", chat_path(i), reply(f"from p{i}"))
        client = AsyncClient(
            provider=providers(server, position, action is REFUSED), timeout=LIMITS, max_retries=0
        )
        try:
            response = await client.chat.completions.create(model="m", messages="hi")
            exc: BaseException | None = None
        except Exception as caught:
            response, exc = None, caught
        await client.close()
        if position < 2:
            assert response is not None, exc
            assert response.provider == f"p{position + 1}"
            assert response.choices[0].message.content == f"from p{position + 1}"
        else:
            assert isinstance(exc, AllProvidersFailedError)
            assert [name for name, _ in exc.errors] == ["p0", "p1", "p2"]
            assert isinstance(exc.errors[2][1], error_type), exc.errors[2][1]
        assert await server.wait_idle(), f"{server.open_connections} connections left open"
        assert not leaked_tasks()


# -- around the matrix -----------------------------------------------------------------------------


async def test_transport_retries_happen_before_fallback() -> None:
    async with FakeServer() as server:
        server.script("POST", chat_path(0), error(503, "blip"), stream_text(["from p0"]))
        server.script("POST", chat_path(1), stream_text(["from p1"]))
        plist = providers(server, -1, False)[:2]
        async with AsyncClient(provider=plist, timeout=LIMITS, max_retries=1) as client:
            stream = client.chat.completions.create(model="m", messages="hi", stream=True)
            assert await stream.collect_text() == "from p0"
        assert [r.path for r in server.requests] == [chat_path(0), chat_path(0)]
        assert await server.wait_idle()


async def test_a_429_cools_an_http_provider_down_for_the_whole_client() -> None:
    async with FakeServer() as server:
        server.script("POST", chat_path(0), error(429, headers={"retry-after": "30"}))
        server.script("POST", chat_path(1), stream_text(["from p1"]))
        plist = providers(server, -1, False)[:2]
        async with AsyncClient(provider=plist, timeout=LIMITS, max_retries=0) as client:
            for _ in range(3):
                stream = client.chat.completions.create(model="m", messages="hi", stream=True)
                assert await stream.collect_text() == "from p1"
        assert [r.path for r in server.requests] == [chat_path(0), *[chat_path(1)] * 3]
        # Only p0 left, still cooling: the call fails at once, saying so.
        async with AsyncClient(provider=plist[:1] * 2, max_retries=0) as fresh:
            fresh.router.health = client.router.health
            with pytest.raises(AllProvidersFailedError) as info:
                await fresh.chat.completions.create(model="m", messages="hi")
        assert isinstance(info.value.errors[0][1], ProviderCooldownError)


async def test_leaving_a_stream_early_closes_the_upstream_connection() -> None:
    async with FakeServer() as server:
        many = [chunk({"content": f"{i} "}) for i in range(50)]
        server.script("POST", chat_path(0), error(500))
        server.script("POST", chat_path(1), pause_after(sse_pieces(many), 3, SLOW))
        plist = providers(server, -1, False)[:2]
        async with AsyncClient(provider=plist, timeout=LIMITS, max_retries=0) as client:
            stream = client.chat.completions.create(model="m", messages="hi", stream=True)
            async for _chunk in stream:
                break
            await stream.aclose()
            # The pooled connection was closed, not kept: the server sees none left even
            # before the client is closed.
            assert await server.wait_idle()
        assert not leaked_tasks()


async def test_cancelling_a_call_mid_stream_closes_the_upstream_connection() -> None:
    async with FakeServer() as server:
        many = [chunk({"content": f"{i} "}) for i in range(50)]
        server.script("POST", chat_path(0), pause_after(sse_pieces(many), 3, SLOW))
        plist = providers(server, -1, False)[:1]
        async with AsyncClient(provider=plist, timeout=LIMITS, max_retries=0) as client:
            got_one = asyncio.Event()

            async def consume() -> None:
                stream = client.chat.completions.create(model="m", messages="hi", stream=True)
                async for _chunk in stream:
                    got_one.set()

            task = asyncio.create_task(consume())
            await asyncio.wait_for(got_one.wait(), 2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert await server.wait_idle()
        assert not leaked_tasks()


async def test_hedging_over_http_closes_the_losing_connection() -> None:
    async with FakeServer() as server:
        server.script("POST", chat_path(0), stall_first(SLOW, stream_text(["from p0"])))
        server.script("POST", chat_path(1), stream_text(["from p1"]))
        plist = providers(server, -1, False)[:2]
        from polymux.routing import RetryProvider

        spec = RetryProvider(plist, shuffle=False, hedge_after=0.05)
        async with AsyncClient(provider=spec, max_retries=0) as client:
            stream = client.chat.completions.create(model="m", messages="hi", stream=True)
            assert await stream.collect_text() == "from p1"
            # The loser's socket is gone at once; the winner's stays in the pool.
            assert await open_at_most(server, 1)
        assert await server.wait_idle()
        assert not leaked_tasks()


async def test_the_total_deadline_spans_http_fallbacks() -> None:
    async with FakeServer() as server:
        server.script("POST", chat_path(0), stall_first(0.2, error(503)))
        server.script("POST", chat_path(1), stall_first(SLOW, stream_text(["late"])))
        plist = providers(server, -1, False)[:2]
        async with AsyncClient(provider=plist, timeout=Timeout(total=0.5), max_retries=0) as c:
            with pytest.raises(APITimeoutError) as info:
                await c.chat.completions.create(model="m", messages="hi")
            assert info.value.limit == "total"
            assert await server.wait_idle()
        assert not leaked_tasks()


# -- one provider: its outcomes still reach its health --------------------------------------------


async def test_a_lone_providers_outcomes_reach_its_health() -> None:
    """A call to a single provider skips the router's attempt layer (nothing to choose), but
    its failures, successes and cancellations must still be reported: a later call that
    routes over several providers relies on them."""
    from polymux.routing import InMemoryHealthStore

    clock = Clock()
    health = InMemoryHealthStore(failure_threshold=2, cooldown=30, clock=clock)
    async with FakeServer() as server:
        server.script(
            "POST",
            "/v1/chat/completions",
            error(503, "down"),
            error(503, "down"),
            stall_first(5.0, reply("late")),
            reply("back"),
        )
        lone = OpenAICompatible(base_url=server.url("/v1"), name="lone")
        async with AsyncClient(provider=lone, health=health, max_retries=0) as client:
            for _ in range(2):
                with pytest.raises(InternalServerError):
                    await client.chat.completions.create(model="m", messages="hi")
            assert await health.wait_time("lone") == pytest.approx(30)  # two failures: open
            clock.now += 31  # half-open: the next caller probes
            assert await health.wait_time("lone") == 0.0
            assert await health.wait_time("lone") > 0  # the probe is taken
            # A cancelled call gives the probe back, with no verdict.
            await health.release("lone")
            assert await health.wait_time("lone") == 0.0  # this test holds the probe now
            call = asyncio.create_task(client.chat.completions.create(model="m", messages="hi"))
            await asyncio.sleep(0.1)
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
            assert await health.wait_time("lone") == 0.0  # released by the cancelled call
            response = await client.chat.completions.create(model="m", messages="hi")
            assert response.choices[0].message.content == "back"
            assert await health.wait_time("lone") == 0.0  # the success closed it
            assert await health.wait_time("lone") == 0.0  # closed: no probe to hand out
        assert await server.wait_idle()
