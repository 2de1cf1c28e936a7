"""CPU per request and per streamed chunk of the gateway, against a raw ASGI + aiohttp proxy.

    .venv/bin/python benchmarks/gateway.py [--rounds 10] [--requests 2000] [--streams 5]

Every server under test runs in its own process pinned to the first CPU(s); the fake upstream
of upstream.py (one canned chat completion, or a 1,000-chunk SSE stream) and the load
generator (aiohttp, 50 requests in flight, or 5 streams) share the last CPU. What is measured
is the server process's CPU time (every thread: the sum of /proc/PID/task/*/schedstat),
divided by the requests or chunks of a batch. The servers get short batches in turn, in a
rotated order each round, so load from elsewhere on the machine falls on all alike; each
figure is the lowest batch, with the median beside it.

- floor: the ~30-line raw ASGI app below (reads the body, posts it with one shared aiohttp
  session, passes the answer back; a stream is forwarded one SSE event per ASGI send, as the
  gateway sends them), served by uvicorn with the gateway's settings (uvloop, httptools, no
  access log). The ratios are against it.
- floor+json: the same app also parsing every answer and event with orjson and serializing
  it again (what any proxy that reads usage and rewrites what it forwards must do at least:
  the floor issue 21 names for the per-chunk figure); its ratio is printed too.
- polymux: ``polymux serve --base-url`` with every feature on: an API key (auth), the usage
  log (SQLite), the request limits.
- nginx: ``proxy_pass`` to the same upstream, one worker, for reference (when ``nginx`` is
  installed: ``make bench-deps`` installs Debian's ``nginx-light``).
- litellm: LiteLLM's proxy pointed at the same upstream, when ``litellm[proxy]`` is
  installed; ``litellm`` without the ``[proxy]`` extra is skipped with a message.

Then a latency table (wall clock, ``--latency-requests``): requests/s and p50/p99 at
concurrency 1 and 50, and the p50 each server adds over calling the upstream directly.
``--revisions A,B`` runs the gateway at several commits (exported with ``git archive``)
against the same floor, interleaved, for before/after figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from upstream import Upstream, cpus

MODEL = "bench-model"
REPO = Path(__file__).resolve().parent.parent
LITELLM_KEY = "sk-bench-litellm"
REQUEST = {"model": MODEL, "messages": [{"role": "user", "content": "Hello"}]}

FLOOR_APP = r"""
import sys
import aiohttp
import orjson
import uvicorn

URL = sys.argv[2] + "/chat/completions"
PARSE = sys.argv[3] == "parse"  # read and rewrite every answer and event, as a gateway must
HEADERS = {"content-type": "application/json", "authorization": "Bearer bench"}
session = None


async def app(scope, receive, send):
    global session
    if scope["type"] == "lifespan":
        await receive()  # startup
        await send({"type": "lifespan.startup.complete"})
        await receive()  # shutdown
        return await send({"type": "lifespan.shutdown.complete"})
    body, more = b"", True
    while more:
        message = await receive()
        body, more = body + message.get("body", b""), message.get("more_body", False)
    session = session or aiohttp.ClientSession()
    async with session.post(URL, data=body, headers=HEADERS) as resp:
        if resp.content_type != "text/event-stream":
            data = await resp.read()
            data = orjson.dumps(orjson.loads(data)) if PARSE else data
            headers = [(b"content-type", b"application/json"),
                       (b"content-length", str(len(data)).encode())]
            await send({"type": "http.response.start", "status": resp.status, "headers": headers})
            return await send({"type": "http.response.body", "body": data})
        headers = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": resp.status, "headers": headers})
        async for line in resp.content:
            if line.startswith(b"data: "):
                if PARSE and line.startswith(b"data: {"):
                    line = b"data: " + orjson.dumps(orjson.loads(line[6:])) + b"\n"
                await send({"type": "http.response.body", "body": line + b"\n", "more_body": True})
        await send({"type": "http.response.body", "body": b""})


uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), loop="uvloop", http="httptools",
            access_log=False, log_level="warning", server_header=False)
"""

#: nginx with one worker, in the foreground, its files in ``{tmp}``; ``{http}``: the rest of
#: its http block (the servers).
NGINX_MAIN = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
{http}
}}
"""

NGINX_PROXY = """
    upstream fake {{ server 127.0.0.1:{upstream_port}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{port};
        location /health {{ return 200 "ok"; }}
        location / {{
            proxy_pass http://fake;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }}
    }}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pids: list[int]) -> float:
    """CPU time of every thread of ``pids`` (and of their child processes' threads)."""
    total = 0
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError, IndexError):  # a thread that ended
                total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


def descendants(pid: int) -> list[int]:
    out = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return out
    for child in children:
        out += descendants(int(child))
    return out


class Server:
    def __init__(
        self,
        name: str,
        cmd: list[str],
        health: str,
        key: str = "bench",
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.health = health
        self.url = "/".join(health.split("/", 3)[:3]) + "/v1/chat/completions"  # same host
        self.key = key
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - kept open while the server runs
        _, server_cpus = cpus()
        self.proc = subprocess.Popen(
            cmd,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=(lambda: os.sched_setaffinity(0, server_cpus)) if server_cpus else None,
        )
        self.requests: list[float] = []
        self.chunks: list[float] = []

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-2000:]

    async def wait_up(self, timeout: float) -> bool:
        """True once the health URL answers; False if the process died or never came up."""
        end = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < end:
                if self.proc.poll() is not None:
                    return False
                try:
                    async with session.get(self.health) as resp:
                        if resp.status < 500:
                            return True
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


async def run_load(
    session: aiohttp.ClientSession, server: Server, kind: str, count: int, concurrency: int
) -> int:
    """Send ``count`` chat requests (``kind`` "requests") or streams ("streams") to ``server``,
    ``concurrency`` at a time; the requests answered, or the stream chunks received."""
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {server.key}"}
    stream = kind == "streams"
    payload = json.dumps({**REQUEST, "stream": True} if stream else REQUEST).encode()
    todo = iter(range(count))
    items = 0
    failures: list[str] = []

    async def worker() -> None:
        nonlocal items
        for _ in todo:
            async with session.post(server.url, data=payload, headers=headers) as resp:
                if resp.status != 200:
                    failures.append(f"{resp.status} {(await resp.read())[:200]!r}")
                    continue
                if not stream:
                    await resp.read()
                    items += 1
                    continue
                async for line in resp.content:
                    if line.startswith(b"data: {"):
                        items += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    if failures:
        raise RuntimeError(f"{server.name}: {len(failures)} failed, first: {failures[0]}")
    return items


async def batch(server: Server, kind: str, count: int) -> float:
    """Run one batch against ``server``; its CPU time per request or per chunk, in us.

    Each batch opens its connections and warms them before it measures (servers close
    keep-alive connections left idle while the other servers' batches run)."""
    concurrency = 5 if kind == "streams" else 50
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        await run_load(session, server, kind, concurrency, concurrency)  # warm up
        pids = descendants(server.proc.pid)
        start = cpu_seconds(pids)
        items = await run_load(session, server, kind, count, concurrency)
        used = cpu_seconds(pids) - start
    return used / max(items, 1) * 1e6


async def latency(url: str, key: str, concurrency: int, count: int) -> dict[str, float]:
    """Requests/s and latency percentiles of ``count`` non-streamed requests."""
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    payload = json.dumps(REQUEST).encode()
    times: list[float] = []
    todo = iter(range(count))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def worker() -> None:
            for _ in todo:
                t0 = time.perf_counter()
                async with session.post(url, data=payload, headers=headers) as resp:
                    await resp.read()
                times.append(time.perf_counter() - t0)

        await asyncio.gather(*(worker() for _ in range(concurrency)))  # warm up
        times.clear()
        todo = iter(range(count))
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    times.sort()
    return {
        "rps": len(times) / elapsed,
        "p50": statistics.median(times) * 1000,
        "p99": times[int(len(times) * 0.99) - 1] * 1000,
    }


async def latencies(servers: list[Server], direct: str, args: argparse.Namespace) -> None:
    print("\nlatency and requests/s (wall clock; added p50 is over calling the upstream directly)")
    for concurrency, count in ((1, args.latency_requests), (50, args.latency_requests * 4)):
        base = await latency(direct, "bench", concurrency, count)
        for name, url, key in [("direct", direct, "bench")] + [
            (s.name, s.url, s.key) for s in servers
        ]:
            r = base if name == "direct" else await latency(url, key, concurrency, count)
            print(
                f"{name:>10} c={concurrency:<3} {r['rps']:8.0f} req/s  p50 {r['p50']:7.2f} ms  "
                f"p99 {r['p99']:7.2f} ms  added p50 {r['p50'] - base['p50']:+6.2f} ms",
                flush=True,
            )


def start_polymux(
    upstream: str,
    tmp: Path,
    revision: str | None = None,
    launcher: Sequence[str] = (sys.executable, "-m", "polymux"),
) -> Server:
    """``polymux serve`` with every feature on; ``launcher`` runs the ``polymux`` command
    (gateway_instructions.py puts valgrind in front of it)."""
    from polymux.server.store import Store

    name = f"polymux@{revision}" if revision else "polymux"
    db = tmp / f"{name}.sqlite3"
    with Store(db) as store:
        key = store.create_key("bench")  # auth on: every request carries and checks a key
    port = free_port()
    cmd = [*launcher, "serve", "--base-url", upstream]
    cmd += ["--port", str(port), "--db", str(db)]
    env = None
    if revision:  # that commit's package first on the path (exported, no checkout)
        src = tmp / name
        src.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", revision, "src"], capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(src)], input=archive.stdout, check=True)
        env = dict(os.environ, PYTHONPATH=str(src / "src"))
    return Server(name, cmd, f"http://127.0.0.1:{port}/health", key, env)


def start_floor(
    upstream: str, tmp: Path, parse: bool = False, launcher: Sequence[str] = (sys.executable,)
) -> Server:
    script = tmp / "floor.py"
    script.write_text(FLOOR_APP)
    port = free_port()
    cmd = [*launcher, str(script), str(port), upstream, "parse" if parse else "pass"]
    return Server("floor+json" if parse else "floor", cmd, f"http://127.0.0.1:{port}/health")


def nginx_path() -> str | None:
    """nginx's executable (Debian puts it in /usr/sbin, off a normal user's PATH), or None."""
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )


def start_nginx(upstream_port: int, tmp: Path) -> Server | None:
    exe = nginx_path()
    if exe is None:
        print("nginx: not installed, skipped (apt-get install nginx to compare)")
        return None
    port = free_port()
    conf = tmp / "nginx.conf"
    servers = NGINX_PROXY.format(port=port, upstream_port=upstream_port)
    conf.write_text(NGINX_MAIN.format(tmp=tmp, http=servers))
    return Server(
        "nginx", [exe, "-c", str(conf), "-p", str(tmp)], f"http://127.0.0.1:{port}/health"
    )


def start_litellm(upstream: str, tmp: Path) -> Server | None:
    if importlib.util.find_spec("litellm") is None:
        print("litellm: not installed, skipped (pip install 'litellm[proxy]' to compare)")
        return None
    # litellm without its [proxy] extra imports but cannot serve: find out before waiting.
    try:
        probe = subprocess.run(
            [sys.executable, "-c", "import litellm.proxy.proxy_server"],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
    except subprocess.TimeoutExpired:
        print("litellm: importing its proxy took over 180 s; skipped")
        return None
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["?"])[-1]
        print(f"litellm: installed without its proxy ({last}); skipped")
        print("         pip install 'litellm[proxy]' to compare")
        return None
    config = tmp / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        f"  - model_name: {MODEL}\n"
        "    litellm_params:\n"
        f"      model: openai/{MODEL}\n"
        f"      api_base: {upstream}\n"
        "      api_key: unused\n"
        # Its proxy refuses to start without a master key (as of 1.110): auth on, as for
        # polymux.
        "general_settings:\n"
        f"  master_key: {LITELLM_KEY}\n"
    )
    port = free_port()
    exe = Path(sys.executable).with_name("litellm")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "litellm"]
    cmd += ["--config", str(config), "--port", str(port), "--num_workers", "1"]
    return Server("litellm", cmd, f"http://127.0.0.1:{port}/health/liveliness", LITELLM_KEY)


async def run(args: argparse.Namespace) -> dict[str, Server]:
    upstream_cpu, _ = cpus()
    if upstream_cpu is not None:
        os.sched_setaffinity(0, {upstream_cpu})  # the load generator shares the upstream's CPU
    results: dict[str, Server] = {}
    with tempfile.TemporaryDirectory() as tmpdir, Upstream(chunks=1000) as upstream:
        tmp = Path(tmpdir)
        upstream_port = int(upstream.rsplit(":", 1)[1].split("/")[0])
        started = [start_floor(upstream, tmp)]
        if args.revisions:
            started += [start_polymux(upstream, tmp, r) for r in args.revisions.split(",")]
        else:
            started.append(start_polymux(upstream, tmp))
        if "floor+json" in args.servers:
            started.append(start_floor(upstream, tmp, parse=True))
        if "nginx" in args.servers:
            started += [s for s in (start_nginx(upstream_port, tmp),) if s is not None]
        if "litellm" in args.servers:
            started += [s for s in (start_litellm(upstream, tmp),) if s is not None]
        servers: list[Server] = []
        try:
            for server in started:
                if await server.wait_up(120 if server.name == "litellm" else 30):
                    servers.append(server)
                else:
                    print(f"{server.name}: did not come up, skipped\n{server.output()}")
                    server.stop()
            for server in servers:  # warm up: imports, pools, caches
                await batch(server, "requests", 200)
                await batch(server, "streams", 5)
            await _rounds(servers, args, results)
            if args.latency_requests:
                await latencies(servers, upstream + "/chat/completions", args)
        finally:
            for server in started:
                server.stop()
    return results


async def _rounds(
    servers: list[Server], args: argparse.Namespace, results: dict[str, Server]
) -> None:
    for round_no in range(args.rounds):
        shift = round_no % len(servers)
        for server in servers[shift:] + servers[:shift]:
            server.requests.append(await batch(server, "requests", args.requests))
            server.chunks.append(await batch(server, "streams", args.streams))
            print(
                f"round {round_no + 1:>2} {server.name:>10}: "
                f"{server.requests[-1]:8.1f} us/request  {server.chunks[-1]:7.2f} us/chunk",
                flush=True,
            )
            results[server.name] = server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10, help="batches a server")
    parser.add_argument("--requests", type=int, default=2000, help="requests a batch (c=50)")
    parser.add_argument("--streams", type=int, default=5, help="1,000-chunk streams a batch")
    parser.add_argument("--servers", default="floor,polymux,floor+json,nginx,litellm")
    parser.add_argument(
        "--latency-requests",
        type=int,
        default=1000,
        help="requests at concurrency 1 for the latency table (4x that at 50; 0: none)",
    )
    parser.add_argument("--quick", action="store_true", help="small batches, two rounds")
    parser.add_argument(
        "--revisions", help="comma-separated git revisions: the gateway at each, interleaved"
    )
    args = parser.parse_args()
    if args.quick:
        args.requests, args.streams, args.rounds = 500, 2, 2
        args.latency_requests = min(args.latency_requests, 200)
    print(
        f"servers pinned to CPUs {sorted(cpus()[1] or [])}, upstream and load to {cpus()[0]}; "
        f"{args.rounds} interleaved batches a server of {args.requests} requests at "
        f"concurrency 50 and {args.streams} streams of 1,000 chunks at concurrency 5; "
        "CPU time of the server process"
    )
    results = asyncio.run(run(args))
    floor = results.get("floor")
    if floor is None or not floor.requests:
        return
    for base in (floor, results.get("floor+json")):
        if base is not None and base.requests:
            _ratios(base, results)


def _ratios(floor: Server, results: dict[str, Server]) -> None:
    print(f"\nratio to {floor.name} (target for polymux: <= 1.3x the raw floor, both figures)")
    print("lowest batch, and in brackets the median batch's figure and ratio")
    print(f"{'server':>10}  {'us/request':>17}  {'x base':>15}  {'us/chunk':>15}  {'x base':>15}")
    floor_r, floor_r_med = min(floor.requests), statistics.median(floor.requests)
    floor_c, floor_c_med = min(floor.chunks), statistics.median(floor.chunks)
    for r in results.values():
        low_r, med_r = min(r.requests), statistics.median(r.requests)
        low_c, med_c = min(r.chunks), statistics.median(r.chunks)
        print(
            f"{r.name:>10}  {low_r:8.1f} ({med_r:6.1f})"
            f"  {low_r / floor_r:6.2f}x ({med_r / floor_r_med:5.2f}x)"
            f"  {low_c:6.2f} ({med_c:6.2f})"
            f"  {low_c / floor_c:6.2f}x ({med_c / floor_c_med:5.2f}x)"
        )


if __name__ == "__main__":
    main()
