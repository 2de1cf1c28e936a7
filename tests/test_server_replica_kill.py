"""``kill -9`` of one gateway replica mid-traffic: what the usage log keeps.

Three real gateway processes (``polymux serve``) share one database (a real PostgreSQL
server; a SQLite file too) and one fake upstream; client threads send traffic to all three,
each request with an ``x-request-id`` of its own, which the gateway stores in its usage row.
One replica is SIGKILLed mid-traffic; the others are then stopped cleanly (SIGTERM writes
every queued row). What must hold:

- every request a surviving replica answered 200 has exactly one usage row;
- no usage row is ever written twice, and none names a request nobody sent;
- the killed replica's answered requests whose rows are missing are all ones answered within
  the documented bound before the kill: usage rows wait in memory at most ``usage.INTERVAL``
  (0.25 s, README: "What a crash can lose: the rows of its last 0.25 s").

How the times compare (all read from the test process's one monotonic clock, so no clock
skew between processes enters). A gateway queues a request's row just after sending its
answer (``Gateway._account``), so the queueing happens after the send, and the client's
answer time is after the send too. A row queued at time q is taken by the writer thread by
q + INTERVAL (or as soon as a batch in progress is committed) and is committed when that
batch's transaction ends. So a row the killed replica lost was queued after
kill_time - INTERVAL - (commit times), and its request was answered after
kill_time - INTERVAL - (commit times + the few bookkeeping steps between the answer's send and
the queueing). ``MARGIN`` covers those commit and bookkeeping times with a lot of room (they
are milliseconds; a loaded 2-core machine may stretch them): the assertion is not a race, it
fails only if rows wait far longer than the documented bound. Traffic runs for more than
INTERVAL + MARGIN before the kill, so requests answered before that window exist and their
rows are checked: the test cannot pass by having nothing to check.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from polymux.server.database import open_database
from polymux.server.usage import INTERVAL

from .cli_support import PY, ROOT, ThreadedFakeServer, clean_env, free_port, healthy, wait_until
from .fakes.openai import CHAT, reply

#: Room for the commit and bookkeeping times on top of the documented bound (see above).
MARGIN = 1.5
#: Client threads per replica: several requests are in flight on the replica when it dies.
CLIENTS = 3
BODY = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}


@dataclass
class Replica:
    """One ``polymux serve`` process and what its clients saw."""

    proc: subprocess.Popen[bytes]
    url: str
    answered: dict[str, float] = field(default_factory=dict)  # request id -> answer time
    sent: set[str] = field(default_factory=set)
    unechoed: list[str] = field(default_factory=list)  # answers without the caller's id
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def upstream() -> Iterator[ThreadedFakeServer]:
    fake = ThreadedFakeServer()
    fake.script("POST", CHAT, reply("hello"))
    yield fake
    fake.close()


@pytest.fixture(params=["postgres", "sqlite"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "shared.sqlite3")
    url: str = request.getfixturevalue("pg_url")
    return url


def _serve(database: str, upstream: ThreadedFakeServer, log: Path) -> Replica:
    port = free_port()
    args = ["serve", "--port", str(port), "--base-url", upstream.base_url]
    with log.open("wb") as stderr:  # a file, not a pipe nobody reads while traffic runs
        proc = subprocess.Popen(
            [PY, "-m", "polymux", *args, "--database", database],
            env=clean_env(),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    return Replica(proc, f"http://127.0.0.1:{port}")


def _traffic(replica: Replica, name: str, stop: threading.Event) -> None:
    """Ask ``replica`` again and again until ``stop`` or until it stops answering."""
    n = 0
    with httpx.Client(base_url=replica.url, timeout=30) as client:
        while not stop.is_set():
            rid = f"{name}-{n}"
            n += 1
            with replica.lock:
                replica.sent.add(rid)
            try:
                answer = client.post(
                    "/v1/chat/completions", json=BODY, headers={"x-request-id": rid}
                )
            except httpx.HTTPError:
                return  # the replica is gone
            answered = time.monotonic()
            with replica.lock:
                if answer.headers.get("x-request-id") != rid:
                    replica.unechoed.append(rid)
                elif answer.status_code == 200:
                    replica.answered[rid] = answered


def _usage_rows(database: str) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        async with await open_database(database) as db:
            return await db.usage_rows()

    return asyncio.run(read())


def test_a_killed_replica_loses_only_the_rows_of_its_last_moments(
    database: str, upstream: ThreadedFakeServer, tmp_path: Path
) -> None:
    replicas = [_serve(database, upstream, tmp_path / f"gw{i}.log") for i in range(3)]
    stop = threading.Event()
    threads: list[threading.Thread] = []
    try:
        wait_until(lambda: all(healthy(r.url) for r in replicas))
        for i, replica in enumerate(replicas):
            for c in range(CLIENTS):
                thread = threading.Thread(target=_traffic, args=(replica, f"r{i}c{c}", stop))
                thread.start()
                threads.append(thread)
        victim, survivors = replicas[0], replicas[1:]

        # Kill once the victim has answered requests for longer than the window the loss
        # may fall in, so some of its answers lie before that window and are checked.
        def long_enough() -> bool:
            with victim.lock:
                times = list(victim.answered.values())
            return bool(times) and time.monotonic() - min(times) > INTERVAL + MARGIN + 1.0

        wait_until(long_enough)
        kill_time = time.monotonic()
        os.kill(victim.proc.pid, signal.SIGKILL)
        victim.proc.wait(10)
        # Traffic goes on to the survivors for a while after the kill.
        counts = [len(r.answered) for r in survivors]
        wait_until(lambda: all(len(r.answered) > n + 50 for r, n in zip(survivors, counts)))
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
        for replica in replicas:
            if replica.proc.poll() is None:
                replica.proc.send_signal(signal.SIGTERM)
        exits = []
        for replica in replicas:
            try:
                exits.append(replica.proc.wait(30))
            except subprocess.TimeoutExpired:
                replica.proc.kill()
                exits.append(replica.proc.wait())
    # A clean stop, which writes every queued row (uvicorn ends it by raising the signal
    # again once the app has shut down).
    assert set(exits[1:]) <= {0, -signal.SIGTERM}, exits

    assert not any(r.unechoed for r in replicas), "an answer did not carry its request id"
    rows = _usage_rows(database)
    ids = [row["request_id"] for row in rows]
    assert len(ids) == len(set(ids)), "a usage row was written twice"
    stored = set(ids)
    sent = set().union(*(r.sent for r in replicas))
    assert stored <= sent, "a usage row names a request nobody sent"
    statuses = {row["request_id"]: row["status"] for row in rows}

    for replica in survivors:
        assert replica.answered, "a surviving replica answered nothing"
        missing = set(replica.answered) - stored
        assert not missing, f"{len(missing)} rows of a surviving replica are missing"
        assert all(statuses[rid] == 200 for rid in replica.answered)

    window_start = kill_time - INTERVAL - MARGIN
    checked = {rid for rid, t in victim.answered.items() if t <= window_start}
    assert checked, "no answer of the killed replica before the window: nothing was checked"
    lost = {rid: t - kill_time for rid, t in victim.answered.items() if rid not in stored}
    early = {rid: round(offset, 3) for rid, offset in lost.items() if offset <= -INTERVAL - MARGIN}
    assert not early, f"rows lost from before the documented bound (s before the kill): {early}"
    assert all(statuses[rid] == 200 for rid in set(victim.answered) & stored)
    print(
        f"killed replica: {len(victim.answered)} answered, {len(checked)} before the window, "
        f"{len(lost)} rows lost, answered at most {-min(lost.values(), default=0.0):.3f} s "
        "before the kill"
    )
