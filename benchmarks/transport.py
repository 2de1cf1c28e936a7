"""CPU a request of ``HttpTransport``: h1.py's connection pool against aiohttp, same run.

    python benchmarks/transport.py              # 8 rounds of each
    python benchmarks/transport.py --quick      # 2 rounds, smaller batches

One process, one event loop (uvloop when installed, as the gateway runs), against the fake
upstream of upstream.py in its own pinned process. Two transports, identical but for
``aiohttp_only``, take turns: a batch of non-streamed requests (``--requests``, 20 in flight,
the lead's set-up for issue 22) or of 1,000-chunk streams, then the other's batch, so load
from elsewhere on the machine falls on both alike. Measured: the process's CPU time
(``time.process_time()``) a request or a streamed chunk; the lowest batch and the median are
printed, and the ratio of h1.py's to aiohttp's (the floor here: what the transport cost
before). Each request goes through the whole transport: the retry loop, deadline.py's watch,
the body read and its size limit; the answer is decoded with orjson as any caller would.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).parent))

from upstream import Upstream

from polymux.transport import HttpRequest
from polymux.transport.http import HttpTransport

BODY = {"model": "bench-model", "messages": [{"role": "user", "content": "Say hello."}]}
HEADERS = {"Authorization": "Bearer sk-bench"}


async def _requests(transport: HttpTransport, url: str, n: int, concurrency: int) -> float:
    todo = iter(range(n))

    async def worker() -> None:
        for _ in todo:
            request = HttpRequest(method="POST", url=url, headers=HEADERS, json=BODY)
            orjson.loads((await transport.request(request)).body)

    start = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return (time.process_time() - start) / n * 1e6


async def _streams(transport: HttpTransport, url: str, n: int) -> float:
    chunks = 0

    async def one() -> None:
        nonlocal chunks
        body = {**BODY, "stream": True}
        request = HttpRequest(method="POST", url=url, headers=HEADERS, json=body)
        async with transport.stream(request) as stream:
            async for piece in stream.iter_bytes():
                chunks += piece.count(b"\n\n")

    start = time.process_time()
    await asyncio.gather(*(one() for _ in range(n)))
    return (time.process_time() - start) / chunks * 1e6


async def main(args: argparse.Namespace, base: str) -> None:
    url = base + "/chat/completions"
    paths: dict[str, Any] = {}
    for name in ("aiohttp", "h1"):
        transport = paths[name] = HttpTransport()
        transport.aiohttp_only = name == "aiohttp"
    figures: dict[tuple[str, str], list[float]] = {}
    for transport in paths.values():  # warm up: connections, caches, imports
        await _requests(transport, url, 500, args.concurrency)
        await _streams(transport, url, 2)
    for _ in range(args.rounds):
        for name, transport in paths.items():
            figures.setdefault(("request", name), []).append(
                await _requests(transport, url, args.requests, args.concurrency)
            )
            figures.setdefault(("chunk", name), []).append(
                await _streams(transport, url, args.streams)
            )
    for transport in paths.values():
        await transport.aclose()
    print(f"CPU us ({args.rounds} batches each; lowest, median)")
    for what in ("request", "chunk"):
        floor = min(figures[(what, "aiohttp")])
        for name in paths:
            runs = figures[(what, name)]
            print(
                f"  a {what:<7} {name:<8} {min(runs):7.2f}  {statistics.median(runs):7.2f}"
                f"  {min(runs) / floor:5.2f}x aiohttp"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000, help="requests a batch")
    parser.add_argument("--streams", type=int, default=5, help="1,000-chunk streams a batch")
    parser.add_argument("--concurrency", type=int, default=20, help="requests in flight")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="2 rounds of 1,000 requests")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.requests, args.streams = 2, 1000, 2
    try:
        import uvloop

        run: Any = uvloop.run
    except ImportError:
        run = asyncio.run
    with Upstream() as base_url:
        run(main(args, base_url))
