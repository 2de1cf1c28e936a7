"""Memory of many concurrent open streams in one process (target: 1,000 under 150 MB RSS).

    python benchmarks/open_streams.py               # 1,000 polymux streams
    python benchmarks/open_streams.py --streams 2000 --client raw

Each stream is opened against the fake upstream of upstream.py (model ``hold``: it sends the
first event and then holds the connection open), its first chunk is read, and once every
stream is open and waiting the process's resident set size is read from /proc/self/status.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from upstream import Upstream

MESSAGES = [{"role": "user", "content": "hold"}]


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def polymux_streams(base_url: str, n: int) -> tuple[float, float]:
    from polymux import AsyncClient

    client = AsyncClient(base_url=base_url, api_key="bench")
    opened = asyncio.Semaphore(0)
    release = asyncio.Event()

    async def one() -> None:
        stream = client.chat.completions.create(model="hold", messages=MESSAGES, stream=True)
        async with stream:
            async for _ in stream:
                opened.release()
                await release.wait()
                break

    before = rss_mb()
    tasks = [asyncio.create_task(one()) for _ in range(n)]
    for _ in range(n):
        await opened.acquire()
    during = rss_mb()
    release.set()
    await asyncio.gather(*tasks)
    await client.close()
    return before, during


async def raw_streams(base_url: str, n: int) -> tuple[float, float]:
    import aiohttp
    import orjson

    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    opened = asyncio.Semaphore(0)
    release = asyncio.Event()
    body = orjson.dumps({"model": "hold", "messages": MESSAGES, "stream": True})

    async def one() -> None:
        async with session.post(base_url + "/chat/completions", data=body) as resp:
            async for line in resp.content:
                if line.startswith(b"data: "):
                    orjson.loads(line[6:])
                    opened.release()
                    await release.wait()
                    break

    before = rss_mb()
    tasks = [asyncio.create_task(one()) for _ in range(n)]
    for _ in range(n):
        await opened.acquire()
    during = rss_mb()
    release.set()
    await asyncio.gather(*tasks)
    await session.close()
    return before, during


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--client", choices=["polymux", "raw"], default="polymux")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    run: Any = polymux_streams if args.client == "polymux" else raw_streams
    if args.client == "polymux":
        import polymux
        import polymux.transport.http  # noqa: F401
    import aiohttp  # noqa: F401
    import orjson  # noqa: F401

    with Upstream() as base_url:
        before, during = asyncio.run(run(base_url, args.streams))
    print(
        f"{args.client}: {args.streams} open streams: RSS {during:.1f} MB "
        f"(process before opening them: {before:.1f} MB; "
        f"{(during - before) * 1024 / args.streams:.1f} KB a stream); target < 150 MB"
    )


if __name__ == "__main__":
    main()
