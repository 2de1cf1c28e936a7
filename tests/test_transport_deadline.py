"""The total time limit, kept for every call by one shared timer (transport/deadline.py).

deadline.py stays because it pays: measured in one run against aiohttp's own per-request
timer (the transport without it), it saved 16-31 us of 160-190 us a request (benchmarks/
README.md). These tests pin what a caller sees, whichever mechanism keeps the limit.

Over real sockets: the limit ends a call waiting for its answer and a stream being read, and
never cancels a caller's own code or swallows a cancellation from elsewhere.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest

from polymux import APITimeoutError, AsyncClient, Timeout
from polymux.transport import RetryPolicy
from polymux.transport.deadline import DeadlineWatcher, Watch
from polymux.transport.http import HttpTransport

from .fakes import FakeServer, stall, stream_bytes
from .fakes.openai import CHAT, chunk, reply

MSGS = [{"role": "user", "content": "hi"}]
# Each test runs through h1.py's pool and through aiohttp (conftest.py's http_path).
pytestmark = pytest.mark.usefixtures("http_path")


@pytest.fixture
async def server() -> AsyncIterator[FakeServer]:
    async with FakeServer() as fake:
        yield fake


def _client(server: FakeServer) -> tuple[AsyncClient, HttpTransport]:
    transport = HttpTransport(retry=RetryPolicy(initial_delay=0.01, max_delay=0.02))
    client = AsyncClient(
        base_url=server.url("/v1"), api_key="sk-test", transport=transport, max_retries=0
    )
    return client, transport


def _slow_stream(n: int, delay: float) -> Any:
    import json

    pieces = [chunk({"role": "assistant", "content": ""})] + [
        chunk({"content": "x"}) for _ in range(n)
    ]
    return stream_bytes([f"data: {json.dumps(c)}\n\n".encode() for c in pieces], delay=delay)


def _not_left_cancelling() -> None:
    task = asyncio.current_task()
    assert task is not None
    if sys.version_info >= (3, 11):
        assert task.cancelling() == 0


async def test_the_limit_ends_a_call_waiting_for_its_answer(server: FakeServer) -> None:
    client, transport = _client(server)
    server.script("POST", CHAT, stall(1.0, reply()))
    with pytest.raises(APITimeoutError) as info:
        await client.chat.completions.create(model="m", messages=MSGS, timeout=Timeout(total=0.2))
    assert info.value.limit == "total" and info.value.seconds == 0.2
    assert "total time limit" in str(info.value)
    # The cancellation that ended the call was taken back: the caller's task is not left
    # cancelling, so its next await works.
    _not_left_cancelling()
    await asyncio.sleep(0)
    # The stalled connection was closed, not kept for reuse (checked before the pool closes).
    assert await server.wait_idle()
    await transport.aclose()


async def _one_chunk_in(server: FakeServer) -> tuple[HttpTransport, AsyncIterator[Any]]:
    """A stream of 40 chunks 50 ms apart under a 0.3 s total limit, its first chunk read."""
    client, transport = _client(server)
    server.script("POST", CHAT, _slow_stream(40, 0.05))
    stream = await client.chat.completions.create(
        model="m", messages=MSGS, stream=True, timeout=Timeout(total=0.3)
    )
    chunks = aiter(stream)
    await anext(chunks)
    return transport, chunks


async def test_a_stream_reader_busy_in_its_own_code_is_not_cancelled(server: FakeServer) -> None:
    transport, chunks = await _one_chunk_in(server)
    # The caller's own work outlasts the limit: it must finish undisturbed ...
    await asyncio.sleep(0.6)
    # ... and the next read reports the limit.
    with pytest.raises(APITimeoutError) as info:
        async for _ in chunks:
            pass
    assert info.value.limit == "total" and info.value.seconds == 0.3
    await transport.aclose()
    assert await server.wait_idle()


async def test_a_stream_read_from_another_task_gets_the_limit(server: FakeServer) -> None:
    transport, chunks = await _one_chunk_in(server)  # opened in this task

    async def read_rest() -> int:
        n = 0
        async for _ in chunks:
            n += 1
        return n

    with pytest.raises(APITimeoutError):
        await asyncio.create_task(read_rest())
    await transport.aclose()
    assert await server.wait_idle()


async def test_a_cancellation_arriving_with_the_deadline_still_cancels(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone else cancels the call in the same moment the deadline passes: the caller must
    see its cancellation, not a timeout that swallowed it."""
    client, transport = _client(server)
    server.script("POST", CHAT, stall(1.0, reply()))
    expire = Watch._expire

    def expire_and_cancel(self: Watch) -> None:
        task = self.task
        expire(self)
        assert task is not None
        task.cancel()  # the other cancellation, in the same tick

    monkeypatch.setattr(Watch, "_expire", expire_and_cancel)
    call = asyncio.create_task(
        client.chat.completions.create(model="m", messages=MSGS, timeout=Timeout(total=0.2))
    )
    with pytest.raises(asyncio.CancelledError):
        await call
    assert await server.wait_idle()
    await transport.aclose()


@pytest.mark.parametrize("limits", [Timeout(total=5.0), Timeout(total=5.0, first_byte=2.0)])
async def test_a_cancellation_from_elsewhere_still_cancels(
    server: FakeServer, limits: Timeout
) -> None:
    """The caller's own cancellation of a call under a limit (the total, and the first byte,
    kept in the same watcher) is a cancellation, not a timeout, and its connection is
    closed."""
    client, transport = _client(server)
    server.script("POST", CHAT, stall(1.0, reply()))
    call = asyncio.create_task(
        client.chat.completions.create(model="m", messages=MSGS, timeout=limits)
    )
    await asyncio.sleep(0.1)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert await server.wait_idle()
    await transport.aclose()


async def test_outside_a_task_there_is_no_watch() -> None:
    loop = asyncio.get_running_loop()
    watcher = DeadlineWatcher(loop)
    got: list[Any] = []
    loop.call_soon(lambda: got.append(watcher.watch(1.0, None)))
    await asyncio.sleep(0.01)
    assert got == [None]  # the transport then lets aiohttp keep the limit
    watch = watcher.watch(1.0, None)
    assert watch is not None and watch.task is asyncio.current_task()
    watch.stop()
    watcher.close()


# The first-byte limit is a deadline in the same watcher (no timer of its own).
async def test_the_first_byte_limit_ends_a_call_and_takes_its_cancellation_back(
    server: FakeServer,
) -> None:
    client, transport = _client(server)
    server.script("POST", CHAT, stall(1.0, reply()))
    with pytest.raises(APITimeoutError) as info:
        await client.chat.completions.create(
            model="m", messages=MSGS, timeout=Timeout(total=5.0, first_byte=0.2)
        )
    assert info.value.limit == "first_byte" and info.value.seconds == 0.2
    _not_left_cancelling()
    await asyncio.sleep(0)
    assert await server.wait_idle()
    await transport.aclose()


async def test_a_first_byte_limit_that_is_not_reached_leaves_nothing_behind(
    server: FakeServer,
) -> None:
    client, transport = _client(server)
    server.script("POST", CHAT, reply())
    answer = await client.chat.completions.create(
        model="m", messages=MSGS, timeout=Timeout(first_byte=0.05)
    )
    assert answer.choices[0].message.content
    await asyncio.sleep(0.15)  # past the limit: its deadline was stopped, nothing cancels now
    _not_left_cancelling()
    await transport.aclose()
