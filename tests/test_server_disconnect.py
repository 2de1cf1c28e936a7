"""A client that leaves cancels its upstream call at once, over real sockets.

The gateway's own uvicorn protocols (server/protocol.py, httptools and h11) notice it in
``connection_lost`` through the connection's ``ConnectionWatch``: no watcher task a request.
Under any other ASGI server (here: uvicorn's plain h11 protocol) a watcher task waits for
``http.disconnect`` instead. Either way the upstream call is cancelled (the gateway closes
its connection to the upstream) and the usage row says 499.
"""

from __future__ import annotations

import asyncio
import http.client
import socket
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from polymux.server import asgi
from polymux.server.protocol import protocol_class

from .fakes.openai import CHAT, chunk, reply
from .server_harness import LiveGateway

#: Long enough that only the gateway closing its side ends a held request within a test.
HOLD_SECONDS = 60.0


class HeldUpstream:
    """An upstream that sends ``first`` (an SSE event) or nothing, then holds the request
    open until its client, the gateway, closes the connection."""

    def __init__(self, first: bytes | None) -> None:
        self.first = first
        self.open = 0
        #: Requests the gateway gave up on (closed its connection) while they were held.
        self.released = 0

    async def __call__(self, request: Any) -> Any:
        from aiohttp import web

        self.open += 1
        try:
            resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            if self.first:
                await resp.prepare(request)
                await resp.write(self.first)
            end = time.monotonic() + HOLD_SECONDS
            while time.monotonic() < end:
                transport = request.transport
                if transport is None or transport.is_closing():
                    self.released += 1
                    break
                await asyncio.sleep(0.01)
            return resp
        finally:
            self.open -= 1


def wait_for(check: Callable[[], bool], what: str) -> None:
    """Wait until ``check()`` (a loose bound, for a loaded machine: the held upstream would
    hold for a minute)."""
    deadline = time.monotonic() + 20
    while not check():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.01)


def post(port: int, body: dict[str, Any]) -> socket.socket:
    data = orjson.dumps(body)
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\n"
        b"content-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(data) + data
    )
    return sock


PROTOCOLS: dict[str, Callable[[], Any]] = {
    "httptools": lambda: protocol_class("httptools"),
    "h11": lambda: protocol_class("h11"),
    "uvicorn's h11": lambda: "h11",  # not the gateway's own: the watcher task's path
}


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "not-streamed"])
@pytest.mark.parametrize("kind", list(PROTOCOLS))
def test_a_leaving_client_cancels_the_upstream_call_at_once(
    tmp_path: Path, kind: str, stream: bool
) -> None:
    pytest.importorskip(kind if kind in ("httptools", "h11") else "h11")
    first = b"data: " + orjson.dumps(chunk({"role": "assistant", "content": "slow"})) + b"\n\n"
    held = HeldUpstream(first if stream else None)
    with LiveGateway(tmp_path, http=PROTOCOLS[kind]()) as gw:
        gw.upstream.script("POST", CHAT, held)
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
        earlier = set(asgi._WATCHERS)  # any left by other tests' loops
        sock = post(gw.port, body)
        try:
            if stream:  # the answer has begun: the first event reached the client
                seen = b""
                while b"slow" not in seen:
                    part = sock.recv(65536)
                    assert part, "the gateway closed the connection"
                    seen += part
            wait_for(lambda: held.open == 1, "the upstream call")
            # The gateway's protocols watch the connection itself; only another server's
            # requests need a watcher task.
            watchers = set(asgi._WATCHERS) - earlier
            assert len(watchers) == (1 if kind == "uvicorn's h11" else 0)
        finally:
            sock.close()
        wait_for(lambda: held.open == 0, "the gateway to give up its upstream call")
        assert held.released == 1
        (row,) = gw.usage_rows()
    assert row["status"] == 499 and row["error"] == "client disconnected"


@pytest.mark.parametrize("kind", ["httptools", "h11"])
def test_a_client_that_stays_gets_every_answer_on_its_connection(tmp_path: Path, kind: str) -> None:
    """Keep-alive: several requests on one connection, each answered; one request's watch
    does not cancel the next."""
    pytest.importorskip(kind)
    with LiveGateway(tmp_path, http=protocol_class(kind)) as gw:
        gw.upstream.script("POST", CHAT, reply("fine"))
        body = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
        conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=20)
        try:
            for _ in range(3):
                conn.request(
                    "POST", "/v1/chat/completions", body, {"content-type": "application/json"}
                )
                answer = conn.getresponse()
                assert answer.status == 200
                assert orjson.loads(answer.read())["choices"][0]["message"]["content"] == "fine"
        finally:
            conn.close()
        rows = gw.usage_rows()
    assert [row["status"] for row in rows] == [200, 200, 200]


# -- the watch itself, as until_disconnect uses it -----------------------------------------------
def watched(watch: asgi.ConnectionWatch) -> Any:
    """A request's call as the gateway's protocols hand it: the watch in its scope."""
    return SimpleNamespace(scope={"extensions": {asgi.CONNECTION_WATCH: watch}}, receive=None)


async def test_a_call_starting_after_the_client_left_is_not_made() -> None:
    watch = asgi.ConnectionWatch()
    watch.lost(answered=False)
    started = False

    async def work() -> None:
        nonlocal started
        started = True

    with pytest.raises(asgi.ClientDisconnected):
        await asgi.until_disconnect(watched(watch), work())
    assert not started


@pytest.mark.parametrize("answered", [False, True])
async def test_the_connection_lost_cancels_a_waiting_call_unless_answered(answered: bool) -> None:
    """Lost mid-call: the call is cancelled, the request's task ends it as
    ``ClientDisconnected`` and is not left cancelling. Lost once the answer was complete:
    the call is left to finish."""
    watch = asgi.ConnectionWatch()
    release = asyncio.Event()
    cancelled = False

    async def work() -> str:
        nonlocal cancelled
        try:
            await release.wait()
        except asyncio.CancelledError:
            cancelled = True
            raise
        return "answer"

    async def request() -> str:
        try:
            return await asgi.until_disconnect(watched(watch), work())
        except asgi.ClientDisconnected:
            cancelling = getattr(asyncio.current_task(), "cancelling", None)  # Python 3.11+
            assert cancelling is None or cancelling() == 0
            await asyncio.sleep(0)  # the task goes on awaiting: nothing left pending
            return "left"

    task = asyncio.ensure_future(request())
    for _ in range(3):
        await asyncio.sleep(0)
    watch.lost(answered=answered)
    release.set()
    assert await task == ("answer" if answered else "left")
    assert cancelled is not answered
