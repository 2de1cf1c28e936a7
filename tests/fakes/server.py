"""A scriptable HTTP server on 127.0.0.1 for tests, speaking over real sockets.

Each route plays scripted actions in order (the last one repeats), records every request,
and counts open TCP connections, so tests can assert that nothing was left open::

    async with FakeServer() as server:
        server.script("POST", "/v1/chat/completions", json(429, {...}), sse_data([...]))
        client = AsyncClient(base_url=server.url("/v1"), api_key="k")
        ...
        assert await server.wait_idle()
"""

from __future__ import annotations

import asyncio
import json as jsonlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Action = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any = field(default=None)


class FakeServer:
    def __init__(self) -> None:
        self._scripts: dict[tuple[str, str], list[Action]] = {}
        self.requests: list[Recorded] = []
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.disconnects = 0  # responses whose client went away mid-stream

    # -- scripting ---------------------------------------------------------------------------
    def script(self, method: str, path: str, *actions: Action) -> None:
        """Play these actions for successive requests; the last one repeats."""
        self._scripts[(method.upper(), path)] = list(actions)

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        try:
            parsed = jsonlib.loads(body) if body else None
        except ValueError:
            parsed = None
        self.requests.append(
            Recorded(
                request.method,
                request.path,
                dict(request.query),
                dict(request.headers),
                body,
                parsed,
            )
        )
        actions = self._scripts.get((request.method, request.path))
        if not actions:
            return web.json_response(
                {"error": {"message": f"no script for {request.path}"}}, status=404
            )
        action = actions.pop(0) if len(actions) > 1 else actions[0]
        try:
            return await action(request)
        except (ConnectionResetError, asyncio.CancelledError):
            self.disconnects += 1
            raise

    # -- lifecycle ---------------------------------------------------------------------------
    async def __aenter__(self) -> FakeServer:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        assert isinstance(server, asyncio.base_events.Server)
        self.port = server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def open_connections(self) -> int:
        assert self._runner is not None
        assert self._runner.server is not None
        return len(self._runner.server.connections)

    async def wait_idle(self, timeout: float = 3.0) -> bool:
        """True once no connection is open (keep-alive ones count: close the client first)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while self.open_connections and loop.time() < end:
            await asyncio.sleep(0.01)
        return self.open_connections == 0


# -- actions ---------------------------------------------------------------------------------
def json(status: int, body: Any, headers: dict[str, str] | None = None, delay: float = 0) -> Action:
    async def act(request: web.Request) -> web.StreamResponse:
        if delay:
            await asyncio.sleep(delay)
        return web.json_response(body, status=status, headers=headers)

    return act


def text(
    status: int,
    body: str | bytes,
    headers: dict[str, str] | None = None,
    content_type: str = "text/plain",
) -> Action:
    async def act(request: web.Request) -> web.StreamResponse:
        data = body.encode() if isinstance(body, str) else body
        return web.Response(status=status, body=data, headers=headers, content_type=content_type)

    return act


def stream_bytes(
    pieces: Iterable[bytes],
    *,
    status: int = 200,
    content_type: str = "text/event-stream",
    headers: dict[str, str] | None = None,
    delay: float = 0,
    first_delay: float = 0,
    reset_after: int | None = None,
) -> Action:
    """Send the pieces as separate writes (``delay`` between them); ``reset_after=k`` drops
    the connection after k pieces, without ending the HTTP response."""
    pieces = list(pieces)

    async def act(request: web.Request) -> web.StreamResponse:
        if first_delay:
            await asyncio.sleep(first_delay)
        resp = web.StreamResponse(
            status=status, headers={"Content-Type": content_type, **(headers or {})}
        )
        await resp.prepare(request)
        for i, piece in enumerate(pieces):
            if reset_after is not None and i >= reset_after:
                assert request.transport is not None
                request.transport.abort()
                return resp
            if delay and i:
                await asyncio.sleep(delay)
            await resp.write(piece)
        if reset_after is not None and reset_after >= len(pieces):
            assert request.transport is not None
            request.transport.abort()
            return resp
        await resp.write_eof()
        return resp

    return act


def sse_data(payloads: Sequence[Any], *, done: bool = True, **kwargs: Any) -> Action:
    """OpenAI-style ``data: <json>`` events, each its own write, then ``data: [DONE]``."""
    pieces = [
        f"data: {jsonlib.dumps(p) if not isinstance(p, str) else p}\n\n".encode() for p in payloads
    ]
    if done:
        pieces.append(b"data: [DONE]\n\n")
    return stream_bytes(pieces, **kwargs)


def sse(events: Sequence[tuple[str | None, Any]], **kwargs: Any) -> Action:
    """Named events (Anthropic style): ``event: <name>`` + ``data: <json>``."""
    pieces = []
    for name, payload in events:
        data = payload if isinstance(payload, str) else jsonlib.dumps(payload)
        head = f"event: {name}\n" if name else ""
        pieces.append(f"{head}data: {data}\n\n".encode())
    return stream_bytes(pieces, **kwargs)


def stall(seconds: float, then: Action | None = None) -> Action:
    """Wait before answering at all (no headers): a slow first byte."""

    async def act(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(seconds)
        if then is None:
            return web.json_response({})
        return await then(request)

    return act


def reset() -> Action:
    """Drop the connection before sending any response."""

    async def act(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.abort()
        raise ConnectionResetError("reset by the fake server")

    return act
