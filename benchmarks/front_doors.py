"""Requests/s through the gateway's three front doors, against the same upstream in one run:
Chat Completions (the floor), Anthropic Messages and Responses, each translated to the same
chat completion upstream and back. The ratios say what each dialect's translation costs.

    .venv/bin/python benchmarks/front_doors.py [--requests 2000] [--concurrency 20]

The upstream and the gateway process are gateway.py's (a canned chat completion; the gateway
pinned to the first core).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).parent))
from gateway import BODY, UPSTREAM_CODE, free_port, pin, start_gateway, wait_up

HI = [{"role": "user", "content": "Hello"}]
DOORS: dict[str, tuple[str, dict[str, Any]]] = {
    "chat": ("/v1/chat/completions", {"model": "bench-model", "messages": HI}),
    "messages": ("/v1/messages", {"model": "bench-model", "max_tokens": 64, "messages": HI}),
    "responses": ("/v1/responses", {"model": "bench-model", "input": "Hello", "store": False}),
}


async def rate(url: str, body: dict[str, Any], requests: int, concurrency: int) -> float:
    payload = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
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
    up_port, gw_port = free_port(), free_port()
    upstream = subprocess.Popen(  # noqa: ASYNC220 - started once, before any load
        [*pin(1), sys.executable, "-c", UPSTREAM_CODE, str(up_port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert upstream.stdin is not None and upstream.stdout is not None
    upstream.stdin.write(BODY)
    upstream.stdin.close()
    upstream.stdout.readline()
    with tempfile.TemporaryDirectory() as tmp:
        gateway = start_gateway(f"http://127.0.0.1:{up_port}/v1", gw_port, Path(tmp))
        try:
            base = f"http://127.0.0.1:{gw_port}"
            await wait_up(base + "/health")
            best: dict[str, float] = {}
            for _ in range(args.rounds):
                for name, (path, body) in DOORS.items():
                    rps = await rate(base + path, body, args.requests, args.concurrency)
                    best[name] = max(best.get(name, 0.0), rps)
            floor = best["chat"]
            for name, rps in best.items():
                print(f"{name:<10} {rps:8.0f} req/s  {rps / floor:5.2f}x of chat completions")
        finally:
            for proc in (gateway, upstream):
                proc.terminate()
                proc.wait(10)


if __name__ == "__main__":
    asyncio.run(main())
