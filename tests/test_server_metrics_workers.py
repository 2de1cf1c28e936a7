"""Metrics across worker processes: two real ``polymux serve`` processes, set up the way the
``--workers`` launcher sets its workers up (``setup_multiprocess``), write to one folder, and
a scrape of either sees the requests both served (its own at once, the other's within a worker's
fold interval); a worker that exits keeps its counts (it folds the rest as it stops)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from polymux.server.metrics import (
    MULTIPROC_ENV,
    SAMPLE_INTERVAL,
    setup_multiprocess,
    worker_exited,
)

from .fakes import FakeServer

HELLO = {"model": "m1", "messages": [{"role": "user", "content": "hi"}]}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _serve(
    upstream: FakeServer, port: int, db: Path, *flags: str
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "polymux",
        "serve",
        "--base-url",
        upstream.url("/v1"),
        "--port",
        str(port),
        "--db",
        str(db),
        *flags,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


async def _wait_up(
    session: aiohttp.ClientSession, url: str, proc: asyncio.subprocess.Process
) -> None:
    for _ in range(600):
        if proc.returncode is not None:
            _, err = await proc.communicate()
            pytest.fail(f"the gateway exited: {err.decode()[-2000:]}")
        try:
            async with session.get(url + "/health") as answer:
                if answer.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.05)
    pytest.fail("the gateway did not start within 30 s")


async def _requests_answered(session: aiohttp.ClientSession, url: str) -> float:
    async with session.get(url + "/metrics") as answer:
        assert answer.status == 200
        text = await answer.text()
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "polymux_requests_total" and sample.labels["status"] == "200":
                assert sample.labels["model"] == "m1"
                total += sample.value
    return total


async def _answered_in_time(session: aiohttp.ClientSession, url: str, expected: float) -> bool:
    """Whether a scrape of ``url`` counts ``expected`` answered requests within the bound a
    worker's counts take to reach the others (``SAMPLE_INTERVAL``), with room for a slow
    machine; polled, not timed."""
    for _ in range(int(20 * SAMPLE_INTERVAL / 0.1)):
        if await _requests_answered(session, url) == expected:
            return True
        await asyncio.sleep(0.1)
    return False


async def test_two_workers_write_one_folder_and_one_scrape_sees_both(
    upstream: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MULTIPROC_ENV, "")  # the test's environment is restored after it
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_99999.db").write_bytes(b"left by an earlier run")
    assert setup_multiprocess(folder) == folder
    assert os.environ[MULTIPROC_ENV] == str(folder)
    assert not (folder / "counter_99999.db").exists()  # an earlier run's counts are not added

    urls = [f"http://127.0.0.1:{_free_port()}" for _ in range(2)]
    procs = [
        await _serve(upstream, int(urls[0].rsplit(":", 1)[1]), tmp_path / "a.db", "--json-logs"),
        await _serve(upstream, int(urls[1].rsplit(":", 1)[1]), tmp_path / "b.db"),
    ]
    try:
        async with aiohttp.ClientSession() as session:
            for url, proc in zip(urls, procs):
                await _wait_up(session, url, proc)
            ids = []
            for i, url in enumerate([urls[0], urls[0], urls[1], urls[1], urls[1]]):
                rid = f"mp-{i}"
                headers = {"x-request-id": rid}
                async with session.post(
                    url + "/v1/chat/completions", json=HELLO, headers=headers
                ) as answer:
                    assert answer.status == 200
                    assert answer.headers["x-request-id"] == rid
                    ids.append(rid)
            for proc in procs:  # unscraped, each samples its in-flight count and cooldowns
                assert (folder / f"gauge_livesum_{proc.pid}.db").exists()
                assert (folder / f"gauge_livemax_{proc.pid}.db").exists()
            # A worker's scrape counts its own requests at once, and another worker's once
            # that one has folded them (its sampler tick, every SAMPLE_INTERVAL).
            assert await _requests_answered(session, urls[0]) >= 2
            assert await _requests_answered(session, urls[1]) >= 3
            assert await _answered_in_time(session, urls[0], 5)
            assert await _answered_in_time(session, urls[1], 5)

            # A request answered just before the worker is told to stop (most likely before
            # its next tick): it folds it as it stops.
            async with session.post(urls[1] + "/v1/chat/completions", json=HELLO) as answer:
                assert answer.status == 200
            procs[1].send_signal(signal.SIGTERM)
            await asyncio.wait_for(procs[1].wait(), 30)
            worker_exited(procs[1].pid)
            assert not list(folder.glob(f"gauge_live*_{procs[1].pid}.db"))
            assert await _requests_answered(session, urls[0]) == 6  # its counts stay
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        outputs = [await asyncio.wait_for(proc.communicate(), 30) for proc in procs]
    lines = [line for line in outputs[0][1].decode().splitlines() if line.startswith("{")]
    logged = [orjson.loads(line) for line in lines]
    assert [entry["request_id"] for entry in logged] == ["mp-0", "mp-1"]
    assert all(entry["status"] == 200 for entry in logged)
