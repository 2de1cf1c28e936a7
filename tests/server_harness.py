"""A live gateway for tests: uvicorn on a free 127.0.0.1 port, in a background thread whose
event loop also runs the fake OpenAI-compatible upstream the gateway fronts. Tests drive it
with the official ``openai`` SDK (sync or async, from the test's own thread), and call the
ASGI app directly where a client address must be simulated.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import openai
import orjson
import uvicorn

from polymux.server import Gateway, GatewayConfig, create_app
from polymux.server.config import ProviderConfig
from polymux.server.run import uvicorn_config

from .fakes import FakeServer


def fake_config(upstream: FakeServer, **overrides: Any) -> GatewayConfig:
    """The config `--base-url <fake>/v1` gives, with overrides."""
    config = GatewayConfig(
        port=1,
        providers=(
            ProviderConfig(name="fake", type="openai-compatible", base_url=upstream.url("/v1")),
        ),
        max_retries=0,
    )
    return replace(config, **overrides)


class LiveGateway:
    """``with LiveGateway(tmp_path) as gw:`` -> ``gw.url``, ``gw.upstream``, ``gw.app``."""

    def __init__(
        self,
        tmp_path: Path,
        configure: Callable[[FakeServer], GatewayConfig] | None = None,
        **uvicorn_overrides: Any,
    ) -> None:
        self.db_path = tmp_path / "gateway.sqlite3"
        self._configure = configure or fake_config
        self._overrides = uvicorn_overrides
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.upstream: FakeServer
        self.app: Gateway
        self.server: uvicorn.Server
        self.loop: asyncio.AbstractEventLoop
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _main(self) -> None:
        try:
            async with FakeServer() as upstream:
                self.upstream = upstream
                config = self._configure(upstream)
                # A config naming a PostgreSQL database is served from it, else the file.
                db_path = None if config.database_url else self.db_path
                self.app = create_app(config, db_path=db_path, key_refresh=0)
                options = {"port": 0, "log_level": "warning", **self._overrides}
                self.server = uvicorn.Server(uvicorn_config(self.app, config, **options))
                task = asyncio.ensure_future(self.server.serve())
                while not self.server.started and not task.done():
                    await asyncio.sleep(0.005)
                if task.done():
                    task.result()
                self.port = self.server.servers[0].sockets[0].getsockname()[1]
                self._ready.set()
                await task
        except BaseException as exc:
            self._error = exc
            self._ready.set()

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        try:
            self.loop.run_until_complete(self._main())
        finally:
            self.loop.close()

    def __enter__(self) -> LiveGateway:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        self.server.should_exit = True

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._thread.join(15)

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run a coroutine factory on the gateway's loop (e.g. to read the upstream)."""

        async def run() -> Any:
            return await fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def usage_rows(self) -> list[dict[str, Any]]:
        """The usage log once everything queued is written."""
        from polymux.server.store import Store

        async def settled() -> None:
            # A request's usage line is queued just after its answer is sent.
            while self.server.server_state.tasks:
                await asyncio.sleep(0.005)

        asyncio.run_coroutine_threadsafe(settled(), self.loop).result(10)
        self.app.usage.close()  # writes the queue and stops the writer (test-only)
        with Store(self.db_path) as store:
            return store.usage_rows()


# -- the ASGI app called directly ------------------------------------------------------------
def _headers(given: Iterable[tuple[str, str]], data: bytes) -> list[tuple[bytes, bytes]]:
    """The request's headers as an SDK on this machine sends them (a loopback Host, a JSON
    body), unless the test gives its own."""
    out = [(k.lower().encode(), v.encode()) for k, v in given]
    names = {name for name, _ in out}
    out.append((b"content-length", str(len(data)).encode()))
    if b"host" not in names:
        out.append((b"host", b"127.0.0.1:1337"))
    if data and b"content-type" not in names:
        out.append((b"content-type", b"application/json"))
    return out


async def asgi_request(
    app: Any,
    method: str,
    path: str,
    body: Any = None,
    *,
    headers: Iterable[tuple[str, str]] = (),
    client: tuple[str, int] | None = ("127.0.0.1", 50000),
    raw: bytes | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One request through the app as uvicorn would pass it, from ``client``."""
    data = raw if raw is not None else (orjson.dumps(body) if body is not None else b"")
    path, _, query = path.partition("?")  # as uvicorn splits them
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": _headers(headers, data),
        "client": client,
        "server": ("127.0.0.1", 1337),
    }
    sent_body = False
    complete = asyncio.Event()
    status = 0
    out_headers: dict[str, str] = {}
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": data, "more_body": False}
        await complete.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            out_headers.update({k.decode(): v.decode() for k, v in message.get("headers", [])})
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                complete.set()

    await app(scope, receive, send)
    return status, out_headers, b"".join(chunks)


def sdk_on(gateway: Gateway) -> openai.AsyncOpenAI:
    """The official SDK, its requests handed to the gateway's ASGI app (no network between)."""
    transport = httpx.ASGITransport(app=gateway, client=("127.0.0.1", 50000))
    return openai.AsyncOpenAI(
        api_key="none",
        base_url="http://127.0.0.1:1337/v1",
        http_client=httpx.AsyncClient(transport=transport),
        max_retries=0,
    )
