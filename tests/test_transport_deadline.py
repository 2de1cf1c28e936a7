"""The total time limit of a call (aiohttp's per-request timer, in the transport).

Over real sockets: the limit ends a call waiting for its answer and a stream being read, and
never cancels a caller's own code or swallows a cancellation from elsewhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from polymux import APITimeoutError, AsyncClient, Timeout
from polymux.transport.http import HttpTransport
from polymux.transport.retry import RetryPolicy

from .fakes import FakeServer, stall, stream_bytes
from .fakes.openai import CHAT, chunk, reply

MSGS = [{"role": "user", "content": "hi"}]


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


async def test_the_limit_ends_a_call_waiting_for_its_answer(server: FakeServer) -> None:
    client, transport = _client(server)
    server.script("POST", CHAT, stall(1.0, reply()))
    with pytest.raises(APITimeoutError) as info:
        await client.chat.completions.create(model="m", messages=MSGS, timeout=Timeout(total=0.2))
    assert info.value.limit == "total" and info.value.seconds == 0.2
    assert "total time limit" in str(info.value)
    # The cancellation that ended the call was taken back: the caller's task is not left
    # cancelling, so its next await works.
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0
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


async def test_a_cancellation_from_elsewhere_still_cancels(server: FakeServer) -> None:
    """The caller's own cancellation of a call under a limit is a cancellation, not a
    timeout, and its connection is closed."""
    client, transport = _client(server)
    server.script("POST", CHAT, stall(1.0, reply()))
    call = asyncio.create_task(
        client.chat.completions.create(model="m", messages=MSGS, timeout=Timeout(total=5.0))
    )
    await asyncio.sleep(0.1)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert await server.wait_idle()
    await transport.aclose()
