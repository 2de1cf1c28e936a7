"""Helpers for the CLI tests: a fake upstream on a thread, and custom providers by dotted path.

The CLI runs in a subprocess, so the fake server cannot live on the test's event loop while a
blocking ``subprocess.run`` waits: it runs on its own loop in a thread instead. Tests point the
CLI at it with ``--base-url``. ``Echo`` and ``Broken`` are loaded by the CLI itself through
``--provider tests.cli_support:Echo`` (no network at all).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx

from polymux.errors import InternalServerError
from polymux.providers import Provider
from polymux.types import ChatRequest

from .fakes import pollinations
from .fakes.openai import CHAT
from .fakes.server import Action, FakeServer

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
SECRET = "sk-test-0123456789abcdef-secret"


class ThreadedFakeServer:
    """A FakeServer on its own loop in a daemon thread. ``script`` is safe to call between
    CLI runs (the server reads its scripts only when a request arrives)."""

    def __init__(self) -> None:
        self.server = FakeServer()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake server did not start")

    def _main(self) -> None:
        try:
            self._loop.run_until_complete(self._serve())
            self._loop.run_until_complete(self._cancel_leftovers())
        finally:
            self._loop.close()

    @staticmethod
    async def _cancel_leftovers() -> None:
        # Handlers still stalling for a client that already left: end them before closing.
        pending = asyncio.all_tasks() - {asyncio.current_task()}
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        async with self.server:
            self._ready.set()
            await self._stop.wait()

    def close(self) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def script(self, method: str, path: str, *actions: Action) -> None:
        self.server.script(method, path, *actions)

    def smart_chat(self) -> None:
        """Chat answered from the request: ``echo: <last> | system: .. | turns: N``."""
        self.script("POST", CHAT, pollinations.smart_chat(size=4))

    @property
    def base_url(self) -> str:
        return self.server.url("/v1")

    @property
    def requests(self) -> list[Any]:
        return self.server.requests


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a CLI run: no provider keys or base URLs leak in from the host."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not (k.endswith(("_API_KEY", "_BASE_URL", "_TOKEN", "_ENDPOINT")) or k == "OLLAMA_HOST")
    }
    env["PYTHONPATH"] = str(ROOT)  # so --provider tests.cli_support:Echo imports
    env.pop("PYTHONDEBUG", None)
    env.update(extra)
    return env


def run_cli(
    *args: str,
    input: str | bytes | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 30,
) -> subprocess.CompletedProcess[str]:
    """``python -m polymux ARGS`` as a user runs it; stdin is /dev/null unless ``input``."""
    data = input.decode() if isinstance(input, bytes) else input
    return subprocess.run(
        [PY, "-m", "polymux", *args],
        input=data,
        stdin=subprocess.DEVNULL if data is None else None,
        capture_output=True,
        text=True,
        env=env if env is not None else clean_env(),
        cwd=cwd or ROOT,
        timeout=timeout,
    )


# -- providers the CLI imports by dotted path ---------------------------------------------------
class Echo(Provider):
    """Answers ``echo(<model>): <last user text>`` in two pieces."""

    models = ("echo-1",)

    async def stream_chat(self, request: ChatRequest) -> AsyncIterator[str]:
        text = request.messages[-1]["content"]
        yield f"echo({request.model or 'echo-1'}): "
        yield text if isinstance(text, str) else "<parts>"


class Broken(Provider):
    """Fails the way a host's outage does (a retryable 503), so fallback moves on."""

    models = ("echo-1",)

    async def stream_chat(self, request: ChatRequest) -> AsyncIterator[str]:
        raise InternalServerError("upstream is down", status_code=503, provider=self.name)
        yield ""  # pragma: no cover - makes this an async generator


NOT_A_PROVIDER = 42


# -- gateways run as processes (`polymux serve`) ----------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("gave up waiting")
        time.sleep(0.05)


def healthy(url: str) -> bool:
    """Whether a gateway answers ``/health`` at ``url`` yet."""
    try:
        return httpx.get(url + "/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
