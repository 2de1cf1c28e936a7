"""Requests/s of the gateway scaled out, as ratios measured in the same run:

- ``--workers 2`` against ``--workers 1`` (issue 21's goal: at least 1.7x on a 2-core machine);
- per-key limits counted in Redis (a key with rpm, tpm, concurrency and a token budget, all
  far above what the run uses, so every request is admitted and settled: two Lua script calls
  a request) against the same gateway with a key without limits and no Redis (goal: at most
  15% below); and the same limits counted in memory, for reference.

    .venv/bin/python benchmarks/scale_out.py [--rounds 5] [--requests 3000] [--concurrency 64]

Non-streamed chat completions against the fake upstream of upstream.py (its own process on the
last CPU). The gateways are not pinned (two workers need both CPUs); the load generator runs
in this process. Each gateway gets batches in turn, in a rotated order each round; the figure
is each gateway's best batch (and median). Also printed: the gateway processes' CPU time per
request (every thread of the server and its workers) and, for Redis, redis-server's.
Needs ``redis-server`` on the PATH for the Redis rows (``make services``).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway import cpu_seconds, descendants, free_port, latency
from upstream import Upstream

HIGH = {"rpm": 10**9, "tpm": 10**12, "concurrency": 10**6, "budget": 1e15, "budget_unit": "tokens"}


@dataclass
class Gateway:
    name: str
    proc: subprocess.Popen[bytes]
    url: str
    key: str
    rps: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)
    redis_us: list[float] = field(default_factory=list)


def start_gateway(
    name: str, upstream: str, tmp: Path, *extra: str, limits: bool = False
) -> Gateway:
    from polymux.server.store import KeyLimits, Store

    db = tmp / f"{name}.sqlite3"
    with Store(db) as store:
        key = store.create_key("bench", limits=KeyLimits(**HIGH) if limits else KeyLimits())  # type: ignore[arg-type]
    port = free_port()
    cmd = [sys.executable, "-m", "polymux", "serve", "--base-url", upstream, "--port", str(port)]
    proc = subprocess.Popen(
        [*cmd, "--db", str(db), *extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return Gateway(name, proc, f"http://127.0.0.1:{port}", key)


def start_redis() -> tuple[subprocess.Popen[bytes] | None, str]:
    """(a redis-server on a free port, its URL), or (None, "") when it is not installed."""
    if not shutil.which("redis-server"):
        print("redis-server: not installed, the Redis row is skipped (make services)")
        return None, ""
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    return proc, f"redis://127.0.0.1:{port}/0"


async def wait_up(gw: Gateway) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            try:
                async with session.get(gw.url + "/health") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{gw.name} did not come up")


async def run(args: argparse.Namespace) -> list[Gateway]:
    with tempfile.TemporaryDirectory() as folder, Upstream(chunks=10) as upstream:
        tmp = Path(folder)
        gateways = [
            start_gateway("1 worker", upstream, tmp),
            start_gateway("2 workers", upstream, tmp, "--workers", "2"),
            start_gateway("limits in memory", upstream, tmp, limits=True),
        ]
        redis, url = start_redis()
        if redis is not None:
            gateways.append(
                start_gateway("limits in redis", upstream, tmp, "--redis", url, limits=True)
            )
        try:
            for gw in gateways:
                await wait_up(gw)
                await latency(gw.url + "/v1/chat/completions", gw.key, args.concurrency, 500)
            for round_no in range(args.rounds):
                shift = round_no % len(gateways)
                for gw in gateways[shift:] + gateways[:shift]:
                    pids = descendants(gw.proc.pid)
                    cpu0 = cpu_seconds(pids)
                    redis0 = cpu_seconds([redis.pid]) if redis and "redis" in gw.name else 0.0
                    r = await latency(
                        gw.url + "/v1/chat/completions", gw.key, args.concurrency, args.requests
                    )
                    gw.rps.append(r["rps"])
                    gw.cpu_us.append((cpu_seconds(pids) - cpu0) / args.requests * 1e6)
                    if redis and "redis" in gw.name:
                        gw.redis_us.append(
                            (cpu_seconds([redis.pid]) - redis0) / args.requests * 1e6
                        )
                    print(
                        f"round {round_no + 1}: {gw.name:>17} {gw.rps[-1]:7.0f} req/s "
                        f"{gw.cpu_us[-1]:7.1f} us CPU/request",
                        flush=True,
                    )
        finally:
            for gw in gateways:
                gw.proc.terminate()
                gw.proc.wait(30)
            if redis is not None:
                redis.terminate()
                redis.wait(10)
    return gateways


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=3000, help="requests a batch")
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    started = time.monotonic()
    gateways = {gw.name: gw for gw in asyncio.run(run(args))}
    print(f"\n{args.rounds} rounds of {args.requests} requests at concurrency {args.concurrency}")
    print(f"{'gateway':>17}  {'best req/s':>10} {'(median)':>9}  {'CPU us/req':>10}  redis us/req")
    for gw in gateways.values():
        redis = f"{min(gw.redis_us):.1f}" if gw.redis_us else "-"
        print(
            f"{gw.name:>17}  {max(gw.rps):10.0f} {statistics.median(gw.rps):9.0f}  "
            f"{min(gw.cpu_us):10.1f}  {redis}"
        )
    one = gateways["1 worker"]

    def ratio(name: str) -> str:
        gw = gateways[name]
        best = max(gw.rps) / max(one.rps)
        median = statistics.median(gw.rps) / statistics.median(one.rps)
        return f"{best:.2f}x (medians {median:.2f}x)"

    print(f"\n--workers 2 / --workers 1: {ratio('2 workers')}  (goal >= 1.7x)")
    print(f"limits in memory / none:   {ratio('limits in memory')}")
    if "limits in redis" in gateways:
        print(f"limits in Redis / none:    {ratio('limits in redis')}  (goal >= 0.85x)")
    print(f"({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
