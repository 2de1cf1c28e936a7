"""Requests/s through the gateway's three front doors, against the same upstream in one run:
Chat Completions (the floor), Anthropic Messages and Responses, each translated to the same
chat completion upstream and back. The ratios say what each dialect's translation costs.

    .venv/bin/python benchmarks/front_doors.py [--requests 2000] [--concurrency 20]

The upstream (upstream.py: a canned chat completion) and the gateway process (started as
gateway.py starts it: with an API key and the usage log on, pinned to the server CPUs) are the
gateway benchmark's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).parent))
from gateway import start_polymux
from upstream import Upstream

HI = [{"role": "user", "content": "Hello"}]
DOORS: dict[str, tuple[str, dict[str, Any]]] = {
    "chat": ("/v1/chat/completions", {"model": "bench-model", "messages": HI}),
    "messages": ("/v1/messages", {"model": "bench-model", "max_tokens": 64, "messages": HI}),
    "responses": ("/v1/responses", {"model": "bench-model", "input": "Hello", "store": False}),
}


async def rate(url: str, key: str, body: dict[str, Any], requests: int, concurrency: int) -> float:
    payload = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    done = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as s:
        for _ in range(20):  # warm up
            async with s.post(url, data=payload, headers=headers) as resp:
                assert resp.status == 200, await resp.text()
                await resp.read()

        async def worker() -> None:
            nonlocal done
            while done < requests:
                done += 1
                async with s.post(url, data=payload, headers=headers) as resp:
                    await resp.read()

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return requests / (time.perf_counter() - start)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved; the best is kept")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Upstream() as upstream:
        gateway = start_polymux(upstream, Path(tmp))
        try:
            if not await gateway.wait_up(30):
                raise SystemExit(f"the gateway did not come up:\n{gateway.output()}")
            base = gateway.health.rsplit("/", 1)[0]
            best: dict[str, float] = {}
            for _ in range(args.rounds):
                for name, (path, body) in DOORS.items():
                    rps = await rate(
                        base + path, gateway.key, body, args.requests, args.concurrency
                    )
                    best[name] = max(best.get(name, 0.0), rps)
            floor = best["chat"]
            for name, rps in best.items():
                print(f"{name:<10} {rps:8.0f} req/s  {rps / floor:5.2f}x of chat completions")
        finally:
            gateway.stop()


if __name__ == "__main__":
    asyncio.run(main())
