"""``polymux serve --workers 2``: two processes answer on one port, a killed worker is
replaced, SIGTERM stops them all."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .cli_support import PY, ROOT, ThreadedFakeServer, clean_env, free_port, healthy, wait_until
from .fakes import json
from .fakes.openai import CHAT, completion

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads /proc")


def _workers(parent: int) -> list[int]:
    """The parent's worker processes (not multiprocessing's resource tracker)."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    out = []
    for pid in children:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            out.append(int(pid))
    return sorted(out)


ESTABLISHED, LISTEN = "01", "0A"  # TCP states as /proc/net/tcp writes them


def _connections(pid: int, port: int, state: str = ESTABLISHED) -> int:
    """TCP sockets on ``port`` in ``state`` (established connections, by default) that
    ``pid`` holds."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        if local_port == port and fields[3] == state and fields[9] in inodes:
            count += 1
    return count


@pytest.fixture
def upstream() -> Iterator[ThreadedFakeServer]:
    fake = ThreadedFakeServer()
    yield fake
    fake.close()


def test_two_workers_share_the_port_and_are_supervised(
    upstream: ThreadedFakeServer, tmp_path: Path
) -> None:
    gate = threading.Event()
    held = 16

    async def hold(request: Any) -> Any:
        while not gate.is_set():
            await asyncio.sleep(0.01)
        return await json(200, completion("hello"))(request)

    upstream.script("POST", CHAT, hold)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = ["serve", "--workers", "2", "--base-url", upstream.base_url, "--port", str(port)]
    proc = subprocess.Popen(
        [PY, "-m", "polymux", *args, "--db", str(tmp_path / "gw.sqlite3")],
        env=clean_env(),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until(lambda: healthy(url))
        wait_until(lambda: len(_workers(proc.pid)) == 2)
        first = _workers(proc.pid)
        # Each worker listens on a socket of its own: until both do, the kernel hands every
        # connection to the one that is listening.
        wait_until(lambda: all(_connections(pid, port, LISTEN) for pid in first))
        # Requests held by the upstream: each is on a connection one worker accepted.
        answers: list[int] = []
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}

        def ask() -> None:
            answers.append(
                httpx.post(url + "/v1/chat/completions", json=body, timeout=30).status_code
            )

        threads = [threading.Thread(target=ask) for _ in range(held)]
        for t in threads:
            t.start()
        wait_until(lambda: len(upstream.requests) == held)
        per_worker = [_connections(pid, port) for pid in first]
        gate.set()
        for t in threads:
            t.join(30)
        assert answers == [200] * held
        # (A /health connection of the wait may still be open too.)
        assert sum(per_worker) >= held
        assert all(n > 0 for n in per_worker), per_worker  # both workers serve

        # Metrics of both workers in one scrape (a multiprocess folder set up by the parent).
        metrics = httpx.get(url + "/metrics", timeout=10)
        assert metrics.status_code == 200
        assert "polymux_requests_total" in metrics.text

        os.kill(first[0], signal.SIGKILL)
        wait_until(lambda: len(_workers(proc.pid)) == 2 and first[0] not in _workers(proc.pid))
        wait_until(lambda: healthy(url))
        assert httpx.post(url + "/v1/chat/completions", json=body, timeout=30).status_code == 200
        workers = _workers(proc.pid)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        for pid in workers:
            assert (
                not Path(f"/proc/{pid}").exists()
                or b"zombie" in Path(f"/proc/{pid}/status").read_bytes()
            )
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def _refused(*args: str) -> str:
    """``polymux serve ARGS``'s error output; it must exit at once with a usage error."""
    result = subprocess.run(
        [PY, "-m", "polymux", "serve", *args, "--base-url", "http://127.0.0.1:9/v1"],
        env=clean_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode in (2, 3), result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


def test_workers_must_be_positive() -> None:
    assert "--workers must be 1 or more" in _refused("--workers", "0")


def test_redis_flag_must_be_a_url() -> None:
    assert "[state] redis must be a URL" in _refused("--redis", "10.0.0.5:6379")
