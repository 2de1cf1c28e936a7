"""CPU cost per request and per streamed chunk: polymux against a raw aiohttp floor.

    python benchmarks/throughput.py                # every client that is installed
    python benchmarks/throughput.py --quick        # fewer requests, for a smoke run
    python benchmarks/throughput.py --clients raw,polymux
    python benchmarks/throughput.py --revisions HEAD~3,HEAD   # polymux at two commits, A/B

Each client runs in its own process for the whole run (so one library's imports, patches or
background threads cannot touch another's figures) pinned to the CPUs the upstream does not
use, against the fake upstream of upstream.py pinned to the last CPU. What is measured is the
client process's CPU time (``time.process_time()``: every thread, user + system) divided by
the requests or chunks it handled; wall time is not used, so the upstream's speed matters
little. The parent sends the processes short batches in turn, ``--rounds`` of them each, one
client running at a time: load from elsewhere on the machine (which moved single figures by
up to 40 % on the shared VM this was written on) then falls on every client alike. Each figure
is the lowest of its batches; the median is printed beside it.

The C allocator is pinned the same way for every client (``--malloc pinned``, the default):
asyncio reads each socket into a fresh 256 KiB buffer, and whether glibc serves that from
``mmap`` (two page faults and two system calls a read) or from the heap depends on what the
process happened to allocate and free before; that chance moved the floor by 20 % between
processes here. ``GLIBC_TUNABLES`` fixes the thresholds so every client gets the heap path;
``--malloc default`` measures without it. Minor page faults per request are printed either way.

- non-streaming: batches of ``--requests`` chat completions, 50 in flight at a time;
- streaming: batches of ``--streams`` streams of 1,000 chunks each, 5 in flight at a time.

The floor ("raw") is what any client must do at least: aiohttp ``session.post`` + ``await
resp.read()`` + ``orjson.loads``; for streams, iterate ``resp.content`` by line and
``orjson.loads`` every ``data:`` line. Ratios are against the floor measured in the same run.
The floor keeps aiohttp's default timeout (a 300 s total: one timer a request); polymux keeps
its deadlines with one shared timer instead (transport/deadline.py). ``--clients
raw,raw-untimed,polymux`` adds the same loop with no deadline at all, for reference.
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
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from upstream import Upstream, cpus

#: One user message; typed loosely, as each client under test types messages its own way.
MESSAGES: list[Any] = [{"role": "user", "content": "Say something about foxes."}]
MODEL = "bench-model"
CLIENTS = ["raw", "polymux", "openai", "litellm", "g4f"]
REPO = Path(__file__).resolve().parent.parent


# -- one client per subprocess ------------------------------------------------------------------


def _raw(
    base_url: str, timed: bool = True
) -> tuple[Callable[[], Awaitable[int]], Callable[[], Awaitable[int]], Any]:
    import aiohttp
    import orjson

    session: aiohttp.ClientSession | None = None
    url = base_url + "/chat/completions"
    headers = {"Authorization": "Bearer bench", "Content-Type": "application/json"}

    def get() -> aiohttp.ClientSession:
        nonlocal session
        if session is None:
            connector = aiohttp.TCPConnector(limit=0)
            if timed:  # aiohttp's default timeout: 300 s in total, one timer a request
                session = aiohttp.ClientSession(connector=connector)
            else:  # no deadline at all: a reference, not a usable client
                timeout = aiohttp.ClientTimeout(total=None, sock_connect=None)
                session = aiohttp.ClientSession(connector=connector, timeout=timeout)
        return session

    async def once() -> int:
        body = orjson.dumps({"model": MODEL, "messages": MESSAGES})
        async with get().post(url, data=body, headers=headers) as resp:
            data = await resp.read()
        orjson.loads(data)
        return 1

    async def stream() -> int:
        body = orjson.dumps({"model": MODEL, "messages": MESSAGES, "stream": True})
        n = 0
        async with get().post(url, data=body, headers=headers) as resp:
            async for line in resp.content:
                if line.startswith(b"data: ") and not line.startswith(b"data: [DONE]"):
                    orjson.loads(line[6:])
                    n += 1
        return n

    async def close() -> None:
        if session is not None:
            await session.close()

    return once, stream, close


def _polymux(base_url: str) -> Any:
    from polymux import AsyncClient

    client = AsyncClient(base_url=base_url, api_key="bench")

    async def once() -> int:
        await client.chat.completions.create(model=MODEL, messages=MESSAGES)
        return 1

    async def stream() -> int:
        n = 0
        async for _ in client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True):
            n += 1
        return n

    return once, stream, client.close


def _polymux_sync(base_url: str) -> Any:
    # The sync Client: plain functions, called from caller threads (see _run).
    from polymux import Client

    client = Client(base_url=base_url, api_key="bench")

    def once() -> int:
        client.chat.completions.create(model=MODEL, messages=MESSAGES)
        return 1

    def stream() -> int:
        n = 0
        for _ in client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True):
            n += 1
        return n

    async def close() -> None:
        client.close()

    return once, stream, close


def _openai(base_url: str) -> Any:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0)

    async def once() -> int:
        await client.chat.completions.create(model=MODEL, messages=MESSAGES)
        return 1

    async def stream() -> int:
        n = 0
        async for _ in await client.chat.completions.create(
            model=MODEL,
            messages=MESSAGES,
            stream=True,
        ):
            n += 1
        return n

    return once, stream, client.close


def _litellm(base_url: str) -> Any:
    import litellm

    litellm.telemetry = False
    litellm.suppress_debug_info = True

    async def once() -> int:
        await litellm.acompletion(
            model="openai/" + MODEL, messages=MESSAGES, api_base=base_url, api_key="bench"
        )
        return 1

    async def stream() -> int:
        n = 0
        response = await litellm.acompletion(
            model="openai/" + MODEL,
            messages=MESSAGES,
            api_base=base_url,
            api_key="bench",
            stream=True,
        )
        async for _ in response:
            n += 1
        return n

    async def close() -> None:
        return None

    return once, stream, close


def _g4f(base_url: str) -> Any:
    from g4f.client import AsyncClient
    from g4f.client.factory import create_custom_provider

    provider = create_custom_provider(
        base_url=base_url, api_key="bench", default_model=MODEL, models=[MODEL]
    )
    client = AsyncClient(provider=provider)

    async def once() -> int:
        await client.chat.completions.create(model=MODEL, messages=MESSAGES)
        return 1

    async def stream() -> int:
        n = 0
        async for _ in client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True):
            n += 1
        return n

    async def close() -> None:
        return None

    return once, stream, close


def _raw_untimed(base_url: str) -> Any:
    return _raw(base_url, timed=False)


FACTORIES = {
    "raw": _raw,
    "raw-untimed": _raw_untimed,
    "polymux": _polymux,
    "polymux-seq": _polymux,
    "polymux-sync": _polymux_sync,
    "polymux-sync-seq": _polymux_sync,
    "openai": _openai,
    "litellm": _litellm,
    "g4f": _g4f,
}


#: Clients measured one call at a time (a sync caller's pattern), for requests and streams.
SEQUENTIAL = frozenset({"polymux-seq", "polymux-sync-seq"})
#: ``--sync``: the sync Client against the async one, one call at a time (``-seq``) and with
#: as many calls in flight as the async clients have (caller threads for the sync one).
SYNC_CLIENTS = "raw,polymux,polymux-sync,polymux-seq,polymux-sync-seq"

#: Every client process gets the same allocator thresholds (see the module docstring).
PINNED_MALLOC = "glibc.malloc.mmap_threshold=4194304:glibc.malloc.trim_threshold=67108864"


async def _run(fn: Callable[[], Any], total: int, concurrency: int) -> tuple[float, int]:
    """CPU seconds and items (requests or chunks) for ``total`` calls, ``concurrency`` at once.

    A plain function (a sync client's call) runs in ``concurrency`` caller threads of a pool
    kept for the whole run; a coroutine function in as many tasks."""
    todo = iter(range(total))
    items = 0
    if not asyncio.iscoroutinefunction(fn):
        return await _run_threads(fn, todo, concurrency)

    async def worker() -> None:
        nonlocal items
        for _ in todo:
            got = await fn()  # not `items += await fn()`: that reads items before awaiting
            items += got

    start = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.process_time() - start, items


_POOL: Any = None


async def _run_threads(fn: Callable[[], int], todo: Any, concurrency: int) -> tuple[float, int]:
    global _POOL
    from concurrent.futures import ThreadPoolExecutor

    if _POOL is None:
        _POOL = ThreadPoolExecutor(50)  # started once: thread creation is not measured
        list(_POOL.map(time.sleep, [0.01] * 50))

    def worker() -> int:
        return sum(fn() for _ in todo)  # next() on a range iterator is atomic

    start = time.process_time()
    done = [_POOL.submit(worker) for _ in range(concurrency)]
    items = sum(f.result() for f in done)
    return time.process_time() - start, items


async def _serve_batches(name: str, base_url: str) -> None:
    """The child's loop: warm up, then run each batch the parent asks for on stdin
    (``requests N`` or ``streams N``) and answer with its CPU time per item on stdout."""
    import resource

    once, stream, close = FACTORIES[name](base_url)
    requests_at, streams_at = (1, 1) if name in SEQUENTIAL else (50, 5)
    try:
        await _run(once, 100, 50)  # warm up: imports, pools, caches
        await _run(stream, 2, 2)
        print("READY", flush=True)
        for line in sys.stdin:  # blocking between batches: nothing else runs in this loop
            kind, _, count = line.strip().partition(" ")
            if kind == "quit":
                break
            faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            if kind == "requests":
                cpu, n = await _run(once, int(count), requests_at)
            else:
                cpu, n = await _run(stream, int(count), streams_at)
            faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
            print(json.dumps({"us": cpu / n * 1e6, "items": n, "faults": faults / n}), flush=True)
    finally:
        await close()


def _child(name: str, base_url: str) -> None:
    _, client_cpus = cpus()
    if client_cpus:
        os.sched_setaffinity(0, client_cpus)
    import warnings

    warnings.filterwarnings("ignore")
    asyncio.run(_serve_batches(name, base_url))


# -- the parent: start the upstream, run each client, print ratios ---------------------------


def _available(name: str) -> bool:
    if name in ("raw", "raw-untimed") or name.startswith("polymux"):
        return True
    import importlib.util

    return importlib.util.find_spec(name) is not None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default=",".join(CLIENTS))
    parser.add_argument("--requests", type=int, default=2000, help="requests a batch")
    parser.add_argument("--streams", type=int, default=5, help="streams a batch")
    parser.add_argument("--rounds", type=int, default=10, help="batches a client")
    parser.add_argument("--quick", action="store_true", help="small batches, two rounds")
    parser.add_argument(
        "--sync",
        action="store_true",
        help=f"the sync Client against the async one, one call at a time ({SYNC_CLIENTS})",
    )
    parser.add_argument(
        "--malloc",
        choices=["pinned", "default"],
        default="pinned",
        help="pin glibc's mmap and trim thresholds for every client (default) or not",
    )
    parser.add_argument(
        "--revisions",
        help="comma-separated git revisions: measure polymux at each (and raw), interleaved",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.requests, args.streams, args.rounds = 500, 2, 2
    if args.sync:
        args.clients = SYNC_CLIENTS
    if args.child:
        _child(args.child, args.base_url)
        return

    upstream_cpu, client_cpus = cpus()
    print(
        f"upstream pinned to CPU {upstream_cpu}, clients to {sorted(client_cpus or [])}; "
        f"batches of {args.requests} requests at concurrency 50 and {args.streams} streams of "
        f"1,000 chunks at concurrency 5; {args.rounds} interleaved batches a client; "
        f"CPU time of the client process; malloc {args.malloc}"
    )
    env = dict(os.environ)
    if args.malloc == "pinned":
        env["GLIBC_TUNABLES"] = ":".join(filter(None, [env.get("GLIBC_TUNABLES"), PINNED_MALLOC]))
    names = [n for n in args.clients.split(",") if n]
    for name in [n for n in names if not _available(n)]:
        print(f"{name:>9}: not installed, skipped")
    names = [n for n in names if _available(n)]
    # name ("polymux@HEAD~1") -> that revision's src/ exported (git archive: no checkout, no
    # worktree), for A/B runs.
    checkouts: dict[str, str] = {}
    if args.revisions:
        names = ["raw"]
        for rev in args.revisions.split(","):
            # The revision's source tree, unpacked (git archive): the repository itself, its
            # worktree list included, is left as it was.
            path = tempfile.mkdtemp(prefix="polymux-rev-")
            archive = subprocess.run(
                ["git", "-C", str(REPO), "archive", rev, "src"], check=True, capture_output=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", path], input=archive, check=True)
            checkouts[f"polymux@{rev}"] = path
            names.append(f"polymux@{rev}")
    best: dict[str, dict[str, Any]] = {}
    try:
        _rounds(names, checkouts, env, args, best)
    finally:
        for path in checkouts.values():
            shutil.rmtree(path, ignore_errors=True)
    results = [best[n] for n in names if n in best]
    if "polymux-sync" in best or "polymux-sync-seq" in best:
        print("\nsync Client / AsyncClient (targets: <= 1.2x request, <= 1.5x chunk)")
        for sync, asynchronous in (
            ("polymux-sync", "polymux"),
            ("polymux-sync-seq", "polymux-seq"),
        ):
            if sync in best and asynchronous in best:
                _print_sync(best[sync], best[asynchronous])
    floor = next((r for r in results if r["client"] == "raw"), None)
    if floor is None:
        return
    print("\nratio to the raw aiohttp floor (targets for polymux: <= 1.3x request, <= 1.5x chunk)")
    print("lowest batch, and in brackets the median batch's figure and ratio")
    print(f"{'client':>12}  {'us/request':>18}  {'x floor':>15}  {'us/chunk':>16}  {'x floor':>15}")
    for r in results:
        per_request = r["request_us"] / floor["request_us"]
        median_request = r["request_median_us"] / floor["request_median_us"]
        per_chunk = r["chunk_us"] / floor["chunk_us"]
        median_chunk = r["chunk_median_us"] / floor["chunk_median_us"]
        print(
            f"{r['client']:>12}  {r['request_us']:8.1f} ({r['request_median_us']:7.1f})"
            f"  {per_request:6.2f}x ({median_request:5.2f}x)"
            f"  {r['chunk_us']:7.2f} ({r['chunk_median_us']:6.2f})"
            f"  {per_chunk:6.2f}x ({median_chunk:5.2f}x)"
        )


def _print_sync(sync: dict[str, Any], seq: dict[str, Any]) -> None:
    print(f"  {sync['client']} / {seq['client']}")
    for kind in ("request", "chunk"):
        low = sync[f"{kind}_us"] / seq[f"{kind}_us"]
        median = sync[f"{kind}_median_us"] / seq[f"{kind}_median_us"]
        print(
            f"  per {kind:<7}  sync {sync[f'{kind}_us']:8.2f} us ({sync[f'{kind}_median_us']:8.2f})"
            f"  async {seq[f'{kind}_us']:8.2f} us ({seq[f'{kind}_median_us']:8.2f})"
            f"  {low:5.2f}x ({median:5.2f}x)"
        )


class _Client:
    """One client's process, kept for the whole run; it measures the batches it is sent."""

    def __init__(self, name: str, client: str, base_url: str, env: dict[str, str]) -> None:
        self.name = name
        cmd = [sys.executable, __file__, "--child", client, "--base-url", base_url]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        self.requests: list[float] = []
        self.chunks: list[float] = []
        self.faults: list[float] = []
        self.chunks_per_stream = 0

    def ready(self) -> bool:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip() == "READY"

    def batch(self, kind: str, count: int) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{kind} {count}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.name}: the client process died")
        result: dict[str, Any] = json.loads(line)
        return result

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _rounds(
    names: list[str],
    checkouts: dict[str, str],
    env: dict[str, str],
    args: argparse.Namespace,
    best: dict[str, dict[str, Any]],
) -> None:
    with Upstream(chunks=1000) as base_url:
        clients: list[_Client] = []
        try:
            for name in names:
                child_env = env
                if name in checkouts:  # that revision's package first on the path
                    child_env = dict(env, PYTHONPATH=os.path.join(checkouts[name], "src"))
                client = "polymux" if name in checkouts else name
                clients.append(_Client(name, client, base_url, child_env))
            for c in clients:
                if not c.ready():
                    print(f"{c.name:>9}: failed to start, skipped")
            clients = [c for c in clients if c.proc.poll() is None]
            # Every client keeps its own process; the batches interleave (each round in a
            # rotated order) so that load from elsewhere on the machine falls on all of them
            # alike. Only one client runs at a time; the others wait on their stdin.
            for round_no in range(args.rounds):
                shift = round_no % len(clients)
                for c in clients[shift:] + clients[:shift]:
                    r = c.batch("requests", args.requests)
                    c.requests.append(r["us"])
                    c.faults.append(r["faults"])
                    r = c.batch("streams", args.streams)
                    c.chunks.append(r["us"])
                    c.chunks_per_stream = r["items"] // args.streams
                    print(
                        f"round {round_no + 1:>2} {c.name:>9}: {c.requests[-1]:8.1f} us/request  "
                        f"{c.chunks[-1]:7.2f} us/chunk  {c.faults[-1]:5.2f} page faults/request",
                        flush=True,
                    )
        finally:
            for c in clients:
                c.close()
        for c in clients:
            best[c.name] = {
                "client": c.name,
                "request_us": min(c.requests),
                "request_median_us": statistics.median(c.requests),
                "chunk_us": min(c.chunks),
                "chunk_median_us": statistics.median(c.chunks),
            }


if __name__ == "__main__":
    main()
