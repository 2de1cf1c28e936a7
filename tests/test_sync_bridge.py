"""The sync Client's streams: chunks read ahead in the loop thread and handed across in
batches. What a caller relies on: every chunk in order, the first one as soon as it exists,
errors with their own types, and the upstream connection closed when the caller stops
reading (close(), a `with` block, or breaking out of a `for` loop) — over a real socket."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import polymux
from polymux import Client
from polymux.client.sync_bridge import HIGH_WATER
from polymux.testing import FunctionProvider, ScriptedProvider
from polymux.types import TextDelta


def _event(content: str) -> bytes:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1767225600,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}],
    }
    data = b"data: " + json.dumps(body).encode() + b"\n\n"
    return b"%x\r\n%s\r\n" % (len(data), data)


class HoldingUpstream:
    """An OpenAI-style upstream on 127.0.0.1 that sends two stream events and then nothing,
    until the client closes the connection (``closed`` is set then)."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.accepted = threading.Event()
        self.closed = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        conn, _ = self._listener.accept()
        self.accepted.set()
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(65536)
            head, _, body = request.partition(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            while len(body) < length:
                body += conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n" + _event("a") + _event("b")
            )
            try:
                while conn.recv(65536):
                    pass
            except OSError:
                pass
            self.closed.set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def close(self) -> None:
        self._listener.close()


@pytest.fixture
def upstream() -> Iterator[HoldingUpstream]:
    server = HoldingUpstream()
    yield server
    server.close()


def test_breaking_out_of_a_for_loop_closes_the_upstream_connection(
    upstream: HoldingUpstream,
) -> None:
    with Client(base_url=upstream.url, api_key="k") as client:
        for chunk in client.chat.completions.create(model="m", messages="hi", stream=True):
            assert chunk.choices[0].delta.content == "a"
            break
        # The stream is garbage now; its upstream connection is closed without close().
        assert upstream.closed.wait(10)


def test_closing_a_stream_closes_the_upstream_connection(upstream: HoldingUpstream) -> None:
    with Client(base_url=upstream.url, api_key="k") as client:
        with client.chat.completions.create(model="m", messages="hi", stream=True) as stream:
            assert next(stream).choices[0].delta.content == "a"
            assert next(stream).choices[0].delta.content == "b"
        assert upstream.closed.wait(10)
        with pytest.raises(StopIteration):
            next(stream)


def test_the_first_chunk_is_handed_over_before_any_other_exists() -> None:
    """The provider sends its second piece only once the caller holds the first: a bridge
    that waited for a batch to fill would never return the first."""
    received = threading.Event()

    async def pieces(request: Any) -> Any:
        yield "first"
        while not received.is_set():  # set by the caller's thread
            await asyncio.sleep(0.001)
        yield "second"

    with Client(provider=FunctionProvider(pieces)) as client:
        stream = client.chat.completions.create(messages="hi", stream=True)
        first = next(stream)
        received.set()
        rest = list(stream)
    assert first.choices[0].delta.content == "first"
    assert "".join(c.choices[0].delta.content or "" for c in rest if c.choices) == "second"


def test_every_chunk_arrives_in_order_through_the_read_ahead_limit() -> None:
    pieces = [f"{i}," for i in range(HIGH_WATER * 5 + 7)]
    with Client(provider=ScriptedProvider(pieces)) as client:
        chunks = list(client.chat.completions.create(messages="hi", stream=True))
    text = "".join(ch.delta.content or "" for c in chunks for ch in c.choices)
    assert text == "".join(pieces)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_a_slow_reader_stops_the_read_ahead() -> None:
    """The pump waits for the reader at HIGH_WATER chunks: a reader that stops early leaves
    most of a long answer unread, and closing ends the provider's stream early."""
    provider = ScriptedProvider(["x"] * (HIGH_WATER * 4))
    with Client(provider=provider) as client:
        stream = client.chat.completions.create(messages="hi", stream=True)
        next(stream)
        stream.close()
    assert provider.closed_early == 1
    assert provider.active == 0


def test_an_error_mid_stream_keeps_its_type_after_the_chunks_before_it() -> None:
    error = polymux.APIConnectionError("connection reset by peer")
    provider = ScriptedProvider([TextDelta("a"), TextDelta("b"), error])
    with Client(provider=provider) as client:
        stream = client.chat.completions.create(messages="hi", stream=True)
        got = [next(stream).choices[0].delta.content, next(stream).choices[0].delta.content]
        assert got == ["a", "b"]
        with pytest.raises(polymux.APIConnectionError, match="reset"):
            next(stream)
        with pytest.raises(StopIteration):  # as a generator does after raising
            next(stream)


def test_an_error_before_the_first_chunk_keeps_its_type() -> None:
    provider = ScriptedProvider(polymux.RateLimitError("slow down", status_code=429))
    with Client(provider=provider) as client, pytest.raises(polymux.RateLimitError):
        next(iter(client.chat.completions.create(messages="hi", stream=True)))


def test_closing_the_client_ends_a_stream_being_read_in_another_thread() -> None:
    started = threading.Event()

    async def endless(request: Any) -> Any:
        yield "a"
        started.set()
        await asyncio.Event().wait()
        yield "never"

    client = Client(provider=FunctionProvider(endless))
    stream = client.chat.completions.create(messages="hi", stream=True)
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in stream:
                pass
        except BaseException as exc:
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    assert started.wait(10)
    client.close()
    reader.join(10)
    assert not reader.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], RuntimeError)
    assert "closed" in str(errors[0])


def test_streams_inside_a_running_event_loop() -> None:
    """As in a notebook: the caller's thread runs a loop of its own."""

    async def cell() -> str:
        with Client(provider=ScriptedProvider(["x"] * (HIGH_WATER * 2))) as client:
            stream = client.chat.completions.create(messages="hi", stream=True)
            return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

    assert asyncio.run(cell()) == "x" * (HIGH_WATER * 2)


def test_calls_from_many_threads_at_once_each_get_their_own_answer() -> None:
    """Calls made while the loop thread is busy are started together (one wake-up): none
    may be lost or answered with another's result."""

    async def echo(request: Any) -> str:
        await asyncio.sleep(0)
        return str(request.messages[-1]["content"])

    with Client(provider=FunctionProvider(echo)) as client:
        answers: dict[str, list[str]] = {}

        def caller(name: str) -> None:
            answers[name] = [
                client.chat.completions.create(messages=f"{name}-{i}").choices[0].message.content
                or ""
                for i in range(20)
            ]

        threads = [threading.Thread(target=caller, args=(f"t{n}",)) for n in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert answers == {f"t{n}": [f"t{n}-{i}" for i in range(20)] for n in range(16)}
