"""Requests/s of the gateway scaled out, as ratios measured in the same run:

- ``--workers 2`` against ``--workers 1`` (issue 21's goal: at least 1.7x on a 2-core machine);
- per-key limits counted in Redis (a key with rpm, tpm, concurrency and a token budget, all
  far above what the run uses, so every request is admitted and settled: two Lua script calls
  a request) against the same gateway with a key without limits and no Redis (goal: at most
  15% below); and the same limits counted in memory, for reference.

    .venv/bin/python benchmarks/scale_out.py [--rounds 5] [--seconds 5] [--concurrency 64]

On a 2-core machine the helpers must cost next to nothing, or the second worker has no core
to run on: the load generator is ``wrk`` (C; ``make bench-deps`` installs Debian's package),
sending the chat completion with a Lua script, and the upstream is nginx answering every
request with the canned chat completion of upstream.py (``return 200 '...'``: no proxying,
no Python). Without wrk the load comes from aiohttp in this process, and without nginx from
upstream.py (Python, pinned to the last CPU), each said in the output; ``--load python`` and
``--upstream python`` choose them. Nothing is pinned in the wrk + nginx setup: two workers
need both CPUs.

Non-streamed chat completions, ``--concurrency`` connections kept alive. Each gateway gets
batches in turn (``--seconds`` of wrk each, or ``--requests`` from aiohttp), in a rotated
order each round; the figure is each gateway's best batch, with the median beside it. Every
batch also prints, from /proc (schedstat of every thread), where the CPU went:

- the gateway's CPU time a request (every thread of the server and its workers) and the
  cores it held (its CPU time over the batch's wall time): a 2-worker gateway that holds
  1.5 cores cannot be twice as fast as one worker holding one, whatever its code does;
- for several workers, each worker's share of that CPU and of the open connections
  (``SO_REUSEPORT`` spreads connections by a hash, not by load);
- the load generator's and the upstream's CPU a request (and redis-server's, for Redis);
- the cores the machine left idle and the cores other processes took (/proc/stat).

The summary splits the workers ratio into cores held and CPU a request, and says how many
cores 1.7x takes at the costs measured. The load average is printed at the start and the
end. On a machine shared with other work, ``--nice -15`` (root) runs the benchmark in a
scheduling group of its own ahead of it, approaching an idle machine.

Figures (2-core VM shared with three other sessions, Nov 2026; benchmarks/README.md, "Ninth
session"): wrk 28-41 us and nginx 16-23 us a request against the gateway's 360-420 us (the
aiohttp load generator and upstream.py cost 146 + 43 us); with ``--nice -15`` two workers
held 1.66-1.72 cores and gave 1.75x-1.96x one worker (medians 1.69x-1.92x) at the default
concurrency (1.40x-1.64x at 8 to 32); without it the other sessions took about a core and
the ratio was 1.18x-1.31x. On two cores the ceiling is 2 / (1 + h / c) for the helpers' CPU
a request h and the gateway's c: about 1.75x-1.8x here.

Needs ``redis-server`` on the PATH for the Redis row (``make services``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway import NGINX_MAIN, REQUEST, cpu_seconds, descendants, free_port, latency, nginx_path
from upstream import Upstream, completion_body

HIGH = {"rpm": 10**9, "tpm": 10**12, "concurrency": 10**6, "budget": 1e15, "budget_unit": "tokens"}

#: nginx's server answering every request with the canned completion.
NGINX_STATIC = """
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    server {{
        listen 127.0.0.1:{port};
        default_type application/json;
        location / {{ return 200 '{body}'; }}
    }}
"""

#: wrk's request (the key comes as its first script argument) and its summary on one line.
WRK_SCRIPT = """
local body = [==[{body}]==]

function init(args)
    wrk.method = "POST"
    wrk.body = body
    wrk.headers["Content-Type"] = "application/json"
    wrk.headers["Authorization"] = "Bearer " .. args[1]
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("polymux-bench %d %d %d %d\\n", summary.requests, summary.duration,
        e.connect + e.read + e.write + e.timeout, e.status))
end
"""


@dataclass
class Gateway:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    key: str
    rps: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)
    cores: list[float] = field(default_factory=list)
    load_us: list[float] = field(default_factory=list)
    upstream_us: list[float] = field(default_factory=list)
    redis_us: list[float] = field(default_factory=list)
    idle: list[float] = field(default_factory=list)  # cores the machine left idle
    others: list[float] = field(default_factory=list)  # cores other processes took

    def clear(self) -> None:
        """Forget the batches so far (the warm-up)."""
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):
                value.clear()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Helpers:
    """The processes besides the gateway: whose CPU a batch also reports."""

    load: str  # "wrk" or "python"
    upstream_name: str
    upstream_url: str
    upstream_pids: list[int]
    redis: subprocess.Popen[bytes] | None = None
    redis_url: str = ""
    wrk_script: Path | None = None


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
    return Gateway(name, proc, port, key)


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


def wait_up(url: str, what: str, proc: subprocess.Popen[bytes] | None = None) -> None:
    for _ in range(300):
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} at start")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not come up")


@contextmanager
def nginx_upstream(tmp: Path) -> Iterator[tuple[str, list[int]]]:
    """(nginx's base URL, its processes), answering the canned completion."""
    exe = nginx_path()
    assert exe is not None
    body = completion_body().decode()
    assert "'" not in body and "\\" not in body and "$" not in body  # nginx string syntax
    folder = tmp / "nginx"
    folder.mkdir()
    port = free_port()
    conf = folder / "nginx.conf"
    servers = NGINX_STATIC.format(port=port, body=body)
    conf.write_text(NGINX_MAIN.format(tmp=folder, http=servers))
    proc = subprocess.Popen(
        [exe, "-c", str(conf), "-p", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_up(f"http://127.0.0.1:{port}/", "nginx", proc)
        yield f"http://127.0.0.1:{port}/v1", descendants(proc.pid)
    finally:
        proc.terminate()
        proc.wait(10)


@contextmanager
def python_upstream() -> Iterator[tuple[str, list[int]]]:
    upstream = Upstream(chunks=10)
    with upstream as url:
        assert upstream.proc is not None
        yield url, [upstream.proc.pid] if upstream.proc.pid else []


def connections(pids: list[int], port: int) -> list[int]:
    """The established connections to ``port`` each of ``pids`` holds (from /proc)."""
    inodes: set[str] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pids[0]}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if cols[3] == "01" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{cols[9]}]")
    counts = []
    for pid in pids:
        count = 0
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            fds = []
        for fd in fds:
            try:
                count += os.readlink(fd) in inodes
            except OSError:
                continue
        counts.append(count)
    return counts


def workers_of(gw: Gateway) -> list[int]:
    """The processes that serve: the gateway itself, or the workers under its supervisor."""
    pids = descendants(gw.proc.pid)
    if len(pids) == 1:
        return pids
    return [
        p for p in pids[1:] if b"resource_tracker" not in Path(f"/proc/{p}/cmdline").read_bytes()
    ]


@dataclass
class Batch:
    requests: int  # every request sent while the CPU was counted
    rps: float
    load_cpu: float  # the load generator's CPU seconds
    conns: list[int]  # per worker, sampled mid-batch


def wrk_batch(gw: Gateway, helpers: Helpers, seconds: int, concurrency: int) -> Batch:
    assert helpers.wrk_script is not None
    cmd = ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "10s"]
    cmd += ["-s", str(helpers.wrk_script), gw.url + "/v1/chat/completions", "--", gw.key]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    time.sleep(min(1.0, seconds / 2))
    conns = connections(workers_of(gw), gw.port)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.stdout is not None
    out = proc.stdout.read().decode(errors="replace")
    line = next((x for x in out.splitlines() if x.startswith("polymux-bench ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{out}")
    requests, micros, errors, non_2xx = (int(x) for x in line.split()[1:])
    if errors or non_2xx:
        raise RuntimeError(f"{gw.name}: {errors} socket errors, {non_2xx} non-2xx answers")
    return Batch(requests, requests / (micros / 1e6), usage.ru_utime + usage.ru_stime, conns)


def python_batch(gw: Gateway, requests: int, concurrency: int) -> Batch:
    url = gw.url + "/v1/chat/completions"
    cpu0 = time.process_time()
    result = asyncio.run(latency(url, gw.key, concurrency, requests))
    # latency() sends ``requests`` to warm up, then times as many again.
    return Batch(2 * requests, result["rps"], time.process_time() - cpu0, [])


def machine_seconds() -> tuple[float, float]:
    """(busy, idle) CPU seconds of the whole machine since boot (/proc/stat; steal is busy:
    another guest had the core)."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    busy = sum(ticks[:8]) - idle  # user .. steal (guest time is inside user)
    hz = os.sysconf("SC_CLK_TCK")
    return busy / hz, idle / hz


def measure(gw: Gateway, helpers: Helpers, args: argparse.Namespace, round_no: int) -> None:
    pids = descendants(gw.proc.pid)
    serving = workers_of(gw)
    redis_pids = [helpers.redis.pid] if helpers.redis and "redis" in gw.name else []
    cpu0 = cpu_seconds(pids)
    each0 = [cpu_seconds([p]) for p in serving]
    up0, redis0 = cpu_seconds(helpers.upstream_pids), cpu_seconds(redis_pids)
    busy0, idle0 = machine_seconds()
    wall0 = time.monotonic()
    if helpers.load == "wrk":
        b = wrk_batch(gw, helpers, args.seconds, args.concurrency)
    else:
        b = python_batch(gw, args.requests, args.concurrency)
    wall = time.monotonic() - wall0
    busy1, idle1 = machine_seconds()
    busy, idle = busy1 - busy0, idle1 - idle0
    used = cpu_seconds(pids) - cpu0
    each = [cpu_seconds([p]) - c for p, c in zip(serving, each0, strict=True)]
    per = 1e6 / max(b.requests, 1)
    gw.rps.append(b.rps)
    gw.cpu_us.append(used * per)
    gw.cores.append(used / wall)
    gw.load_us.append(b.load_cpu * per)
    gw.upstream_us.append((cpu_seconds(helpers.upstream_pids) - up0) * per)
    if redis_pids:
        gw.redis_us.append((cpu_seconds(redis_pids) - redis0) * per)
    helper_us = gw.load_us[-1] + gw.upstream_us[-1] + (gw.redis_us[-1] if redis_pids else 0.0)
    gw.idle.append(idle / wall)
    gw.others.append(max(busy / wall - gw.cores[-1] - helper_us / per / wall, 0.0))
    split = ""
    if len(serving) > 1:
        shares = "/".join(f"{c / max(sum(each), 1e-9) * 100:.0f}" for c in each)
        split = f"  workers' CPU {shares} %"
        split += f", connections {'/'.join(map(str, b.conns))}" if b.conns else ""
    redis = f" redis {gw.redis_us[-1]:5.1f}" if redis_pids else ""
    label = f"round {round_no + 1}" if round_no >= 0 else "warm-up"
    print(
        f"{label}: {gw.name:>17} {gw.rps[-1]:6.0f} req/s  gateway "
        f"{gw.cpu_us[-1]:6.1f} us/req on {gw.cores[-1]:4.2f} cores  {helpers.load} "
        f"{gw.load_us[-1]:4.1f} {helpers.upstream_name} {gw.upstream_us[-1]:4.1f}{redis}; "
        f"cores idle {gw.idle[-1]:4.2f}, other processes {gw.others[-1]:4.2f}{split}",
        flush=True,
    )


def setup(args: argparse.Namespace, tmp: Path, stack: ExitStack) -> Helpers:
    load = args.load or ("wrk" if shutil.which("wrk") else "python")
    if load == "python" and not args.load:
        print("wrk: not installed (make bench-deps); the load comes from aiohttp in this process")
    upstream_kind = args.upstream or ("nginx" if nginx_path() else "python")
    if upstream_kind == "python" and not args.upstream:
        print("nginx: not installed (make bench-deps); the upstream is upstream.py (Python)")
    if upstream_kind == "nginx":
        url, pids = stack.enter_context(nginx_upstream(tmp))
    else:
        url, pids = stack.enter_context(python_upstream())
    helpers = Helpers(load, upstream_kind, url, pids)
    if load == "wrk":
        helpers.wrk_script = tmp / "request.lua"
        helpers.wrk_script.write_text(WRK_SCRIPT.format(body=json.dumps(REQUEST)))
    return helpers


def run(args: argparse.Namespace) -> tuple[list[Gateway], str]:
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        tmp = Path(folder)
        helpers = setup(args, tmp, stack)
        upstream = helpers.upstream_url
        print(
            f"load: {helpers.load}, upstream: {helpers.upstream_name}; "
            f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
            flush=True,
        )
        gateways = [
            start_gateway("1 worker", upstream, tmp),
            start_gateway("2 workers", upstream, tmp, "--workers", "2"),
            start_gateway("limits in memory", upstream, tmp, limits=True),
        ]
        if args.redis:
            helpers.redis, helpers.redis_url = start_redis()
        if helpers.redis is not None:
            gateways.append(
                start_gateway(
                    "limits in redis", upstream, tmp, "--redis", helpers.redis_url, limits=True
                )
            )
        try:
            warm = argparse.Namespace(**{**vars(args), "seconds": 2, "requests": 500})
            for gw in gateways:
                wait_up(gw.url + "/health", gw.name, gw.proc)
                measure(gw, helpers, warm, -1)  # imports, pools, caches
                gw.clear()
            for round_no in range(args.rounds):
                shift = round_no % len(gateways)
                for gw in gateways[shift:] + gateways[:shift]:
                    measure(gw, helpers, args, round_no)
        finally:
            for gw in gateways:
                gw.proc.terminate()
                gw.proc.wait(30)
            if helpers.redis is not None:
                helpers.redis.terminate()
                helpers.redis.wait(10)
    return gateways, helpers.load


def prioritize(nice: int) -> None:
    """Run this process and all it starts at ``nice``. Where the kernel groups processes by
    session (autogroup), niceness only ranks processes within their group, so the script
    re-runs itself as a session of its own (``setsid``) and sets its group's niceness too."""
    group = Path("/proc/self/autogroup")
    enabled = Path("/proc/sys/kernel/sched_autogroup_enabled")
    if group.exists() and enabled.exists() and enabled.read_text().strip() == "1":
        if os.getsid(0) != os.getpid():
            os.execvp("setsid", ["setsid", "-w", sys.executable, *sys.argv])
        group.write_text(str(nice))
    os.setpriority(os.PRIO_PROCESS, 0, nice)  # inherited by every process and thread after
    grouped = f"; {group.read_text().strip()}" if group.exists() else ""
    print(f"niceness {os.getpriority(os.PRIO_PROCESS, 0)}{grouped}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5, help="seconds a batch (wrk)")
    parser.add_argument("--requests", type=int, default=3000, help="requests a batch (python)")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--load", choices=["wrk", "python"], help="default: wrk if installed")
    parser.add_argument("--upstream", choices=["nginx", "python"], help="default: nginx if any")
    parser.add_argument("--no-redis", dest="redis", action="store_false", help="skip that row")
    parser.add_argument(
        "--nice",
        type=int,
        help="run everything at this niceness (negative: root only); on a machine shared with "
        "other work, -15 leaves them little of the CPU, approaching an idle machine",
    )
    args = parser.parse_args()
    if args.nice is not None:
        prioritize(args.nice)
    started = time.monotonic()
    served, load = run(args)
    gateways = {gw.name: gw for gw in served}
    batch = f"{args.seconds} s" if load == "wrk" else f"{args.requests} requests"
    print(f"\n{args.rounds} rounds of {batch} a gateway at concurrency {args.concurrency}")
    print("req/s: best batch (median); the rest are medians. CPU in us a request: the gateway")
    print("(every process and thread), the load generator, the upstream, redis-server. Cores:")
    print("the gateway's (its CPU over the wall time), idle ones, other processes' on the machine")
    print(
        f"{'gateway':>17}  {'req/s':>6} {'(med)':>7}  {'gateway':>7} {'load':>5} {'upstr':>5} "
        f"{'redis':>5}  {'cores':>5} {'idle':>5} {'other':>5}"
    )
    med = statistics.median
    for gw in gateways.values():
        redis = f"{med(gw.redis_us):5.1f}" if gw.redis_us else "    -"
        print(
            f"{gw.name:>17}  {max(gw.rps):6.0f} ({med(gw.rps):5.0f})  {med(gw.cpu_us):7.1f} "
            f"{med(gw.load_us):5.1f} {med(gw.upstream_us):5.1f} {redis}  {med(gw.cores):5.2f} "
            f"{med(gw.idle):5.2f} {med(gw.others):5.2f}"
        )
    one, two = gateways["1 worker"], gateways["2 workers"]

    def ratio(gw: Gateway) -> str:
        best = max(gw.rps) / max(one.rps)
        median = med(gw.rps) / med(one.rps)
        return f"{best:.2f}x (medians {median:.2f}x)"

    print(f"\n--workers 2 / --workers 1: {ratio(two)}  (goal >= 1.7x)")
    print(
        f"  = cores held {med(two.cores) / med(one.cores):.2f}x "
        f"/ CPU a request {med(two.cpu_us) / med(one.cpu_us):.2f}x (medians)"
    )
    # What 1.7x takes on this machine when nothing else runs: one worker on a core of its
    # own, two workers at the CPU a request measured, with wrk and the upstream beside them.
    rate = 1.7 / (med(one.cpu_us) / 1e6)
    need = rate * med(two.cpu_us) / 1e6
    helpers = rate * (med(two.load_us) + med(two.upstream_us)) / 1e6
    print(
        f"  1.7x one worker holding a whole core ({rate:.0f} req/s) takes {need:.2f} cores of "
        f"2 workers + {helpers:.2f} of load and upstream = {need + helpers:.2f} of "
        f"{os.cpu_count()}"
    )
    print(f"limits in memory / none:   {ratio(gateways['limits in memory'])}")
    if "limits in redis" in gateways:
        print(f"limits in Redis / none:    {ratio(gateways['limits in redis'])}  (goal >= 0.85x)")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average at the end {load} ({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
