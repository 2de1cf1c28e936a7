"""A fake OpenAI-compatible upstream that is not the bottleneck, for the benchmarks.

It runs in its own process pinned to the last CPU (the client runs on the others), speaks
just enough HTTP/1.1 (keep-alive, Content-Length request bodies) and answers with bodies
built once at start: a ``chat.completion`` for non-streamed calls and a 1,000-chunk SSE
stream (chunked transfer encoding, one HTTP chunk per event) for streamed ones. A request
whose body names the model ``hold`` gets its stream's first two events and then nothing more
until the client closes the connection (for the open-streams memory test).

Run alone (``python benchmarks/upstream.py``) it prints its port and serves until killed.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import socket
import sys
from typing import Any

HOST = "127.0.0.1"


def completion_body() -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1767225600,
            "model": "bench-model",
            "system_fingerprint": "fp_bench",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "The quick brown fox jumps over the lazy dog. " * 4,
                        "refusal": None,
                    },
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 25, "completion_tokens": 40, "total_tokens": 65},
        }
    ).encode()


def _chunk(delta: dict[str, Any], finish: str | None = None, usage: Any = None) -> bytes:
    body: dict[str, Any] = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1767225600,
        "model": "bench-model",
        "system_fingerprint": "fp_bench",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
        if usage is None
        else [],
    }
    if usage is not None:
        body["usage"] = usage
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def stream_events(chunks: int) -> list[bytes]:
    """``chunks`` content events (a typical token each), a finish, usage, [DONE]."""
    events = [_chunk({"role": "assistant", "content": ""})]
    words = ["The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog", "."]
    events += [_chunk({"content": words[i % len(words)]}) for i in range(chunks)]
    events.append(_chunk({}, "stop"))
    events.append(
        _chunk({}, usage={"prompt_tokens": 25, "completion_tokens": chunks, "total_tokens": 25})
    )
    events.append(b"data: [DONE]\n\n")
    return events


def _http_chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


class Responses:
    def __init__(self, chunks: int) -> None:
        body = completion_body()
        self.completion = (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nConnection: keep-alive\r\n\r\n%s" % (len(body), body)
        )
        head = (
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"
        )
        events = stream_events(chunks)
        self.stream = head + b"".join(_http_chunk(e) for e in events) + b"0\r\n\r\n"
        # The role chunk and one token: polymux yields its first chunk at the first content.
        self.stream_head = head + _http_chunk(events[0]) + _http_chunk(events[1])
        models = json.dumps({"object": "list", "data": [{"id": "bench-model"}]}).encode()
        self.models = (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(models), models)
        )


class _Conn(asyncio.Protocol):
    def __init__(self, responses: Responses) -> None:
        self.r = responses
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].lower()
            length = 0
            for line in head.split(b"\r\n"):
                if line.startswith(b"content-length:"):
                    length = int(line[15:])
            if len(self.buf) < end + 4 + length:
                return
            body = self.buf[end + 4 : end + 4 + length]
            self.buf = self.buf[end + 4 + length :]
            self._answer(head, body)

    def _answer(self, head: bytes, body: bytes) -> None:
        assert self.transport is not None
        if head.startswith(b"get"):
            self.transport.write(self.r.models)
        elif b'"stream":true' in body or b'"stream": true' in body:
            if b'"hold"' in body:
                self.transport.write(self.r.stream_head)  # then silence until the client leaves
            else:
                self.transport.write(self.r.stream)
        else:
            self.transport.write(self.r.completion)


async def _serve(port_out: Any, chunks: int) -> None:
    loop = asyncio.get_running_loop()
    responses = Responses(chunks)
    server = await loop.create_server(lambda: _Conn(responses), HOST, 0, backlog=4096)
    port_out.put(server.sockets[0].getsockname()[1])
    await asyncio.Event().wait()


def _main(port_out: Any, cpu: int | None, chunks: int) -> None:
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})
    _raise_fd_limit()
    asyncio.run(_serve(port_out, chunks))


def _raise_fd_limit() -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def cpus() -> tuple[int | None, set[int] | None]:
    """(the upstream's CPU, the client's CPUs): the last one for the upstream."""
    if not hasattr(os, "sched_getaffinity"):
        return None, None
    mine = sorted(os.sched_getaffinity(0))
    if len(mine) < 2:
        return None, None
    return mine[-1], set(mine[:-1])


class Upstream:
    """``with Upstream() as base_url:`` runs the fake upstream in a pinned process."""

    def __init__(self, chunks: int = 1000) -> None:
        self.chunks = chunks
        self.proc: multiprocessing.process.BaseProcess | None = None
        self.port = 0

    def __enter__(self) -> str:
        ctx = multiprocessing.get_context("spawn")
        queue = ctx.Queue()
        cpu, _ = cpus()
        proc = ctx.Process(target=_main, args=(queue, cpu, self.chunks), daemon=True)
        proc.start()
        self.proc = proc
        self.port = queue.get(timeout=30)
        return f"http://{HOST}:{self.port}/v1"

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.join(5)


if __name__ == "__main__":
    with Upstream(int(sys.argv[1]) if len(sys.argv) > 1 else 1000) as url:
        print(url, flush=True)
        import time

        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
