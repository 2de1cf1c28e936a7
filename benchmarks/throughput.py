"""CPU cost per request and per streamed chunk: modelmux against a raw aiohttp floor.

    python benchmarks/throughput.py                # every client that is installed
    python benchmarks/throughput.py --quick        # fewer requests, for a smoke run
    python benchmarks/throughput.py --clients raw,modelmux
    python benchmarks/throughput.py --revisions HEAD~3,HEAD   # modelmux at two commits, A/B

Each client runs in its own subprocess (so one library's imports, patches or background
threads cannot touch another's figures) pinned to the CPUs the upstream does not use, against
the fake upstream of upstream.py pinned to the last CPU. What is measured is the client
process's CPU time (``time.process_time()``: every thread, user + system) divided by the
requests or chunks it handled; wall time is not used, so the upstream's speed and other load
on the machine matter little. Each figure is the lowest of ``--rounds`` rounds, which
interleave the clients so that outside load is spread over all of them.

The C allocator is pinned the same way for every client (``--malloc pinned``, the default):
asyncio reads each socket into a fresh 256 KiB buffer, and whether glibc serves that from
``mmap`` (two page faults and two system calls a read) or from the heap depends on what the
process happened to allocate and free before; that chance moved the floor by 20 % between
processes here. ``GLIBC_TUNABLES`` fixes the thresholds so every client gets the heap path;
``--malloc default`` measures without it. Minor page faults per request are printed either way.

- non-streaming: ``--requests`` chat completions, 50 in flight at a time;
- streaming: ``--streams`` streams of 1,000 chunks each, 5 in flight at a time.

The floor ("raw") is what any client must do at least: aiohttp ``session.post`` + ``await
resp.read()`` + ``orjson.loads``; for streams, iterate ``resp.content`` by line and
``orjson.loads`` every ``data:`` line. Ratios are against the floor measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from upstream import Upstream, cpus

MESSAGES = [{"role": "user", "content": "Say something about foxes."}]
MODEL = "bench-model"
CLIENTS = ["raw", "modelmux", "openai", "litellm", "g4f"]
REPO = Path(__file__).resolve().parent.parent


# -- one client per subprocess ------------------------------------------------------------------


def _raw(base_url: str) -> tuple[Callable[[], Awaitable[int]], Callable[[], Awaitable[int]], Any]:
    import aiohttp
    import orjson

    session: aiohttp.ClientSession | None = None
    url = base_url + "/chat/completions"
    headers = {"Authorization": "Bearer bench", "Content-Type": "application/json"}

    def get() -> aiohttp.ClientSession:
        nonlocal session
        if session is None:
            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
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


def _modelmux(base_url: str) -> Any:
    from modelmux import AsyncClient

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


def _openai(base_url: str) -> Any:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0)

    async def once() -> int:
        await client.chat.completions.create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]
        return 1

    async def stream() -> int:
        n = 0
        async for _ in await client.chat.completions.create(
            model=MODEL,
            messages=MESSAGES,  # type: ignore[arg-type]
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


FACTORIES = {
    "raw": _raw,
    "modelmux": _modelmux,
    "openai": _openai,
    "litellm": _litellm,
    "g4f": _g4f,
}


#: Every client process gets the same allocator thresholds (see the module docstring).
PINNED_MALLOC = "glibc.malloc.mmap_threshold=4194304:glibc.malloc.trim_threshold=67108864"


async def _run(fn: Callable[[], Awaitable[int]], total: int, concurrency: int) -> tuple[float, int]:
    """CPU seconds and items (requests or chunks) for ``total`` calls, ``concurrency`` at once."""
    todo = iter(range(total))
    items = 0

    async def worker() -> None:
        nonlocal items
        for _ in todo:
            got = await fn()  # not `items += await fn()`: that reads items before awaiting
            items += got

    start = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.process_time() - start, items


async def _measure(name: str, base_url: str, args: argparse.Namespace) -> dict[str, Any]:
    once, stream, close = FACTORIES[name](base_url)
    result: dict[str, Any] = {"client": name}
    try:
        await _run(once, 100, 50)  # warm up: imports, pools, caches
        await _run(stream, 2, 2)
        import resource

        per_request, per_chunk = [], []
        for _ in range(args.rounds):
            faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            cpu, n = await _run(once, args.requests, 50)
            faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
            result["faults_per_request"] = faults / n
            per_request.append(cpu / n)
            cpu, n = await _run(stream, args.streams, 5)
            per_chunk.append(cpu / n)
            result["chunks_per_stream"] = n // args.streams
        result["request_us"] = min(per_request) * 1e6
        result["chunk_us"] = min(per_chunk) * 1e6
    finally:
        await close()
    return result


def _child(name: str, base_url: str, args: argparse.Namespace) -> None:
    _, client_cpus = cpus()
    if client_cpus:
        os.sched_setaffinity(0, client_cpus)
    import warnings

    warnings.filterwarnings("ignore")
    result = asyncio.run(_measure(name, base_url, args))
    print("RESULT " + json.dumps(result), flush=True)


# -- the parent: start the upstream, run each client, print ratios ---------------------------


def _available(name: str) -> bool:
    if name in ("raw", "modelmux"):
        return True
    import importlib.util

    return importlib.util.find_spec(name) is not None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default=",".join(CLIENTS))
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="fewer requests, one round")
    parser.add_argument(
        "--malloc",
        choices=["pinned", "default"],
        default="pinned",
        help="pin glibc's mmap and trim thresholds for every client (default) or not",
    )
    parser.add_argument(
        "--revisions",
        help="comma-separated git revisions: measure modelmux at each (and raw), interleaved",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.requests, args.streams, args.rounds = 500, 5, 1
    if args.child:
        _child(args.child, args.base_url, args)
        return

    upstream_cpu, client_cpus = cpus()
    print(
        f"upstream pinned to CPU {upstream_cpu}, clients to {sorted(client_cpus or [])}; "
        f"{args.requests} requests at concurrency 50, {args.streams} streams of 1,000 chunks "
        f"at concurrency 5; best of {args.rounds} interleaved rounds; "
        f"CPU time of the client process; malloc {args.malloc}"
    )
    env = dict(os.environ)
    if args.malloc == "pinned":
        env["GLIBC_TUNABLES"] = ":".join(filter(None, [env.get("GLIBC_TUNABLES"), PINNED_MALLOC]))
    names = [n for n in args.clients.split(",") if n]
    for name in [n for n in names if not _available(n)]:
        print(f"{name:>9}: not installed, skipped")
    names = [n for n in names if _available(n)]
    # name ("modelmux@HEAD~1") -> a checkout of that revision, for A/B runs.
    checkouts: dict[str, str] = {}
    if args.revisions:
        names = ["raw"]
        for rev in args.revisions.split(","):
            path = tempfile.mkdtemp(prefix="modelmux-rev-")
            git = ["git", "-C", str(REPO), "worktree"]
            subprocess.run([*git, "add", "-q", "--detach", path, rev], check=True)
            checkouts[f"modelmux@{rev}"] = path
            names.append(f"modelmux@{rev}")
    best: dict[str, dict[str, Any]] = {}
    try:
        _rounds(names, checkouts, env, args, best)
    finally:
        for path in checkouts.values():
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", path])
    results = [best[n] for n in names if n in best]
    floor = next((r for r in results if r["client"] == "raw"), None)
    if floor is None:
        return
    print("\nratio to the raw aiohttp floor (targets for modelmux: <= 1.3x request, <= 1.5x chunk)")
    print(f"{'client':>9}  {'us/request':>10}  {'x floor':>7}  {'us/chunk':>8}  {'x floor':>7}")
    for r in results:
        per_request = r["request_us"] / floor["request_us"]
        per_chunk = r["chunk_us"] / floor["chunk_us"]
        print(
            f"{r['client']:>9}  {r['request_us']:10.1f}  {per_request:6.2f}x"
            f"  {r['chunk_us']:8.2f}  {per_chunk:6.2f}x"
        )


def _rounds(
    names: list[str],
    checkouts: dict[str, str],
    env: dict[str, str],
    args: argparse.Namespace,
    best: dict[str, dict[str, Any]],
) -> None:
    with Upstream(chunks=1000) as base_url:
        # Rounds interleave the clients (raw, modelmux, ..., raw, modelmux, ...) so that load
        # from elsewhere on the machine is spread over all of them; each keeps its best round.
        for round_no in range(args.rounds):
            for name in names:
                client = "modelmux" if name in checkouts else name
                cmd = [sys.executable, __file__, "--child", client, "--base-url", base_url]
                cmd += ["--requests", str(args.requests), "--streams", str(args.streams)]
                cmd += ["--rounds", "1"]
                child_env = env
                if name in checkouts:  # that revision's package first on the path
                    child_env = dict(env, PYTHONPATH=os.path.join(checkouts[name], "src"))
                proc = subprocess.run(
                    cmd, capture_output=True, text=True, timeout=1800, env=child_env
                )
                lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
                if proc.returncode or not lines:
                    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
                    print(f"{name:>9}: failed: {' | '.join(tail)}")
                    continue
                r = json.loads(lines[-1][7:])
                r["client"] = name
                print(
                    f"round {round_no + 1} {name:>9}: {r['request_us']:8.1f} us/request  "
                    f"{r['chunk_us']:7.2f} us/chunk  "
                    f"{r['faults_per_request']:5.2f} page faults/request",
                    flush=True,
                )
                old = best.setdefault(name, r)
                old["request_us"] = min(old["request_us"], r["request_us"])
                old["chunk_us"] = min(old["chunk_us"], r["chunk_us"])


if __name__ == "__main__":
    main()
