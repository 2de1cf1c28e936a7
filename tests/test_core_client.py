"""Both clients, both stream styles, closing and cancelling streams, the sync client in a loop."""

from __future__ import annotations

import asyncio
import inspect
import sys
import threading

import pytest

import polymux
from polymux import AsyncChatStream, AsyncClient, ChatStream, Client
from polymux.client import AsyncClient as AsyncClientFromClient
from polymux.client import Client as ClientFromClient
from polymux.client.sync_bridge import HIGH_WATER
from polymux.testing import ScriptedProvider
from polymux.types import ChatCompletionChunk, Finish, TextDelta

PIECES = ["Hel", "lo", ", ", "world"]


def texts(chunks: list[ChatCompletionChunk]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_public_imports_are_the_same_objects() -> None:
    assert AsyncClient is AsyncClientFromClient
    assert Client is ClientFromClient


async def test_async_non_stream() -> None:
    provider = ScriptedProvider(PIECES)
    async with AsyncClient(provider=provider) as client:
        response = await client.chat.completions.create(
            model="scripted-model", messages=[{"role": "user", "content": "hi"}]
        )
    assert response.choices[0].message.content == "Hello, world"
    assert response.choices[0].message.role == "assistant"
    assert response.choices[0].finish_reason == "stop"
    assert response.object == "chat.completion"
    assert response.provider == "scripted"
    assert response.model == "scripted-model"
    assert len(provider.requests) == 1
    assert provider.requests[0].messages == [{"role": "user", "content": "hi"}]
    assert provider.requests[0].stream is False


async def test_stream_seed_style_without_await() -> None:
    provider = ScriptedProvider(PIECES)
    client = AsyncClient(provider=provider)
    chunks = [c async for c in client.chat.completions.create(messages="hi", stream=True)]
    assert texts(chunks) == "Hello, world"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.choices[0].delta.role is None for c in chunks[1:])
    assert [c.choices[0].finish_reason for c in chunks][-1] == "stop"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    assert len({c.id for c in chunks}) == 1
    assert provider.requests[0].stream is True
    assert provider.active == 0 and provider.closed_early == 0
    await client.close()


async def test_stream_openai_style_with_await() -> None:
    provider = ScriptedProvider(PIECES)
    client = AsyncClient(provider=provider)
    stream = await client.chat.completions.create(messages="hi", stream=True)
    assert isinstance(stream, AsyncChatStream)
    chunks = [c async for c in stream]
    assert texts(chunks) == "Hello, world"


async def test_stream_is_lazy_until_iterated() -> None:
    provider = ScriptedProvider(PIECES)
    client = AsyncClient(provider=provider)
    stream = client.chat.completions.create(messages="hi", stream=True)
    await asyncio.sleep(0)
    assert provider.requests == []  # nothing runs before the first chunk is asked for
    await stream.aclose()
    assert provider.requests == []


async def test_collect_text() -> None:
    client = AsyncClient(provider=ScriptedProvider(PIECES))
    stream = client.chat.completions.create(messages="hi", stream=True)
    assert await stream.collect_text() == "Hello, world"


async def test_break_inside_async_with_closes_provider_generator() -> None:
    provider = ScriptedProvider(["a", "b", "c", "d"])
    client = AsyncClient(provider=provider)
    async with client.chat.completions.create(messages="hi", stream=True) as stream:
        async for chunk in stream:
            assert chunk.choices[0].delta.content == "a"
            assert provider.active == 1
            break
    assert provider.active == 0
    assert provider.closed_early == 1
    # a closed stream yields nothing more
    assert [c async for c in stream] == []


async def test_aclose_closes_provider_generator_and_is_idempotent() -> None:
    provider = ScriptedProvider(["a", "b", "c"])
    client = AsyncClient(provider=provider)
    stream = await client.chat.completions.create(messages="hi", stream=True)
    first = await stream.__anext__()
    assert first.choices[0].delta.content == "a"
    assert provider.active == 1
    await stream.aclose()
    await stream.aclose()
    await stream.close()  # the OpenAI SDK's name
    assert provider.active == 0
    assert provider.closed_early == 1


async def test_cancelling_the_iterating_task_closes_provider_generator() -> None:
    provider = ScriptedProvider(["a", "b", "c", "d"], delay=0.05)
    client = AsyncClient(provider=provider)
    received: list[str] = []
    first = asyncio.Event()

    async def consume() -> None:
        async for chunk in client.chat.completions.create(messages="hi", stream=True):
            received.append(chunk.choices[0].delta.content or "")
            first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 5)
    assert provider.active == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
    assert provider.active == 0
    assert provider.closed_early == 1
    assert received[0] == "a" and len(received) < 4


async def test_cancelling_inside_async_with_while_caller_awaits_elsewhere() -> None:
    provider = ScriptedProvider(["a", "b", "c"])
    client = AsyncClient(provider=provider)
    inside = asyncio.Event()

    async def consume() -> None:
        async with client.chat.completions.create(messages="hi", stream=True) as stream:
            async for _ in stream:
                inside.set()
                await asyncio.sleep(10)  # cancelled here, not inside the stream

    task = asyncio.create_task(consume())
    await asyncio.wait_for(inside.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert provider.active == 0
    assert provider.closed_early == 1


async def test_wait_for_timeout_on_stream_closes_provider_generator() -> None:
    provider = ScriptedProvider(["a", "b"], delay=5)
    client = AsyncClient(provider=provider)

    async def consume() -> str:
        return await client.chat.completions.create(messages="hi", stream=True).collect_text()

    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(consume(), 0.1)
    assert provider.active == 0
    assert provider.closed_early == 1


async def test_error_mid_stream_reaches_caller_after_content() -> None:
    provider = ScriptedProvider(["a", "b", polymux.InternalServerError("boom", status_code=500)])
    client = AsyncClient(provider=provider)
    got: list[str] = []

    async def consume() -> None:
        async for chunk in client.chat.completions.create(messages="hi", stream=True):
            got.append(chunk.choices[0].delta.content or "")

    with pytest.raises(polymux.InternalServerError):
        await consume()
    assert got == ["a", "b"]
    assert provider.active == 0


async def test_async_client_context_manager_closes_transport() -> None:
    closed: list[bool] = []

    class RecordingTransport:
        async def aclose(self) -> None:
            closed.append(True)

    client = AsyncClient(provider=ScriptedProvider("x"))
    client._transport = RecordingTransport()  # type: ignore[assignment]
    async with client as entered:
        assert entered is client
        await client.chat.completions.create(messages="hi")
    assert closed == [True]


async def test_concurrent_calls_on_one_client() -> None:
    provider = ScriptedProvider("one", "two", "three", delay=0.01)
    client = AsyncClient(provider=provider)
    results = await asyncio.gather(
        *(client.chat.completions.create(messages=f"q{i}") for i in range(3))
    )
    assert sorted(r.choices[0].message.content or "" for r in results) == ["one", "three", "two"]


async def test_n_choices_in_stream_and_completion() -> None:
    script = [
        TextDelta("A", 0),
        TextDelta("B", 1),
        TextDelta("a", 0),
        Finish("stop", 0),
        TextDelta("b", 1),
        Finish("length", 1),
    ]
    provider = ScriptedProvider(script)
    client = AsyncClient(provider=provider)
    response = await client.chat.completions.create(messages="hi", n=2)
    assert [(c.index, c.message.content, c.finish_reason) for c in response.choices] == [
        (0, "Aa", "stop"),
        (1, "Bb", "length"),
    ]
    chunks = [c async for c in client.chat.completions.create(messages="hi", n=2, stream=True)]
    by_index: dict[int, str] = {}
    finishes: dict[int, str | None] = {}
    for chunk in chunks:
        for choice in chunk.choices:
            by_index[choice.index] = by_index.get(choice.index, "") + (choice.delta.content or "")
            if choice.finish_reason:
                finishes[choice.index] = choice.finish_reason
    assert by_index == {0: "Aa", 1: "Bb"}
    assert finishes == {0: "stop", 1: "length"}
    assert provider.requests[0].n == 2


# -- the sync client --------------------------------------------------------------------------


def test_sync_client_non_stream_and_stream() -> None:
    provider = ScriptedProvider(PIECES)
    with Client(provider=provider) as client:
        response = client.chat.completions.create(messages="hi")
        assert response.choices[0].message.content == "Hello, world"
        assert response.provider == "scripted"
        stream = client.chat.completions.create(messages="hi", stream=True)
        assert isinstance(stream, ChatStream)
        chunks = list(stream)
        assert texts(chunks) == "Hello, world"
        assert chunks[-1].choices[0].finish_reason == "stop"
        models = client.models.list()
        assert [m.id for m in models] == ["scripted-model"]


def test_sync_stream_close_closes_provider_generator() -> None:
    # Longer than the sync stream reads ahead (HIGH_WATER), so it is still open at the break.
    provider = ScriptedProvider(["a", *["b"] * (2 * HIGH_WATER)])
    with Client(provider=provider) as client:
        with client.chat.completions.create(messages="hi", stream=True) as stream:
            for chunk in stream:
                assert chunk.choices[0].delta.content == "a"
                break
        assert provider.active == 0
        assert provider.closed_early == 1


def test_sync_client_propagates_errors_with_their_type() -> None:
    provider = ScriptedProvider(polymux.RateLimitError("slow down", status_code=429))
    with Client(provider=provider) as client, pytest.raises(polymux.RateLimitError):
        client.chat.completions.create(messages="hi")


def test_sync_client_from_inside_a_running_event_loop() -> None:
    """As in a notebook: a coroutine run by asyncio.run calls the sync client."""
    policy_before = asyncio.get_event_loop_policy()

    async def notebook_cell() -> tuple[str, str, type[asyncio.AbstractEventLoop]]:
        loop = asyncio.get_running_loop()
        loop_type = type(loop)
        with Client(provider=ScriptedProvider(PIECES)) as client:
            response = client.chat.completions.create(messages="hi")
            streamed = texts(list(client.chat.completions.create(messages="hi", stream=True)))
        # the caller's loop is neither patched nor replaced, and still runs
        assert asyncio.get_running_loop() is loop
        assert type(loop) is loop_type
        assert not hasattr(loop, "_nest_patched")
        assert "nest_asyncio" not in sys.modules
        await asyncio.sleep(0)
        return response.choices[0].message.content or "", streamed, loop_type

    content, streamed, _ = asyncio.run(asyncio.wait_for(notebook_cell(), 10))
    assert content == "Hello, world"
    assert streamed == "Hello, world"
    assert asyncio.get_event_loop_policy() is policy_before


def test_sync_client_runs_the_work_on_another_thread_and_close_stops_it() -> None:
    seen: list[str] = []

    async def where(request: object) -> str:
        seen.append(threading.current_thread().name)
        return "ok"

    from polymux.testing import FunctionProvider

    client = Client(provider=FunctionProvider(where))
    assert client.chat.completions.create(messages="hi").choices[0].message.content == "ok"
    runner_thread = client._runner._thread
    assert seen == [runner_thread.name] and seen[0] != threading.current_thread().name
    client.close()
    assert not runner_thread.is_alive()
    client.close()  # twice is fine


def test_sync_client_images_generate() -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
    with Client(image_provider=ScriptedProvider(images=[png])) as client:
        response = client.images.generate(prompt="a cat", response_format="b64_json")
    assert response.data[0].b64_json is not None


def test_sync_client_close_closes_streams_left_open() -> None:
    provider = ScriptedProvider(["a", *["b"] * (2 * HIGH_WATER)])
    client = Client(provider=provider)
    stream = client.chat.completions.create(messages="hi", stream=True)
    assert next(stream).choices[0].delta.content == "a"
    assert provider.active == 1
    client.close()  # the stream was abandoned, not closed: the client's close releases it
    assert provider.active == 0
    assert provider.closed_early == 1


def test_sync_client_used_after_close_is_a_clear_error() -> None:
    provider = ScriptedProvider("x")
    client = Client(provider=provider)
    client.close()
    with pytest.raises(RuntimeError, match="closed"):
        client.chat.completions.create(messages="hi")
    assert provider.requests == []


def test_sync_client_exits_cleanly_with_an_abandoned_stream() -> None:
    """Normal use without close(): the interpreter exits at once, silently, with status 0."""
    import subprocess

    code = (
        "from polymux import Client\n"
        "from polymux.testing import ScriptedProvider\n"
        "client = Client(provider=ScriptedProvider(['a', 'b'], delay=0.01))\n"
        "print(client.chat.completions.create(messages='x').choices[0].message.content)\n"
        "stream = client.chat.completions.create(messages='x', stream=True)\n"
        "print(next(stream).choices[0].delta.content)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-X", "dev", "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 0
    assert proc.stdout == "ab\na\n"
    assert proc.stderr == ""


async def test_cancelling_before_the_first_chunk_closes_provider_generator() -> None:
    provider = ScriptedProvider(["a", "b"], delay=5)
    client = AsyncClient(provider=provider)

    async def consume() -> None:
        async for _ in client.chat.completions.create(messages="hi", stream=True):
            pass

    task = asyncio.create_task(consume())
    while not provider.active:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert provider.active == 0
    assert provider.closed_early == 1


async def test_cancelling_a_non_streamed_call_closes_provider_generator() -> None:
    provider = ScriptedProvider(["a", "b", "c"], delay=0.05)
    client = AsyncClient(provider=provider)
    task = asyncio.create_task(client.chat.completions.create(messages="hi"))
    while not provider.active:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.07)  # past the first piece: the answer is being read
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert provider.active == 0
    assert provider.closed_early == 1


def test_the_sync_client_takes_the_async_clients_arguments() -> None:
    # Same names, kinds, defaults and annotations: a typo in Client(...) fails type checks.
    assert inspect.signature(Client.__init__) == inspect.signature(AsyncClient.__init__)
