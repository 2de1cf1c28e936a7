"""CPU cost per 1,000 embedded inputs: polymux's ``embeddings.create`` against a raw aiohttp
loop, in the same run.

    python benchmarks/embeddings.py              # defaults: 20 rounds
    python benchmarks/embeddings.py --quick

The fake upstream (upstream.py's server, answering ``/embeddings`` with a body built once at
start: ``--batch`` vectors of ``--dims`` floats, or their base64 form when the request asks for
it) runs in its own process pinned to the last CPU. The clients run in this process, one at a
time, in interleaved rounds (order rotating); each round is ``--requests`` requests of
``--batch`` inputs, 10 in flight. Measured: ``time.process_time()`` of this process per 1,000
inputs; each figure is the lowest round, with the median beside it.

The floor ("raw") is what any client must do at least: ``session.post`` of the JSON body,
``await resp.read()``, ``orjson.loads``, and, for base64, decoding each vector to floats.
"polymux" is ``AsyncClient(base_url=...)`` (floats from the host) and, for base64,
``provider=OpenAI(...)`` (which asks for base64 and returns floats to the caller).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import sys
import time
from array import array
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import upstream
from upstream import cpus

INFLIGHT = 10


def _answer(body: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\nConnection: keep-alive\r\n\r\n%s" % (len(body), body)
    )


class _EmbeddingConn(upstream._Conn):
    floats = b""
    compact = b""

    def _answer(self, head: bytes, body: bytes) -> None:
        assert self.transport is not None
        self.transport.write(self.compact if b'"base64"' in body else self.floats)


def _bodies(batch: int, dims: int) -> tuple[bytes, bytes]:
    vector = [((i * 7919) % 1000) / 1000.0 - 0.5 for i in range(dims)]
    packed = base64.b64encode(array("f", vector).tobytes()).decode()
    usage = {"prompt_tokens": batch * 8, "total_tokens": batch * 8}

    def body(value: Any) -> bytes:
        data = [{"object": "embedding", "index": i, "embedding": value} for i in range(batch)]
        payload = {"object": "list", "data": data, "model": "bench-embed", "usage": usage}
        return _answer(json.dumps(payload).encode())

    return body(vector), body(packed)


async def _serve(port_out: Any, batch: int, dims: int) -> None:
    _EmbeddingConn.floats, _EmbeddingConn.compact = _bodies(batch, dims)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _EmbeddingConn(None), upstream.HOST, 0)  # type: ignore[arg-type]
    port_out.put(server.sockets[0].getsockname()[1])
    await asyncio.Event().wait()


def _main(port_out: Any, cpu: int | None, batch: int, dims: int) -> None:
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})
    asyncio.run(_serve(port_out, batch, dims))


def _texts(batch: int) -> list[str]:
    return [
        f"document number {i}: the quick brown fox jumps over the lazy dog" for i in range(batch)
    ]


async def _run(work: Callable[[], Awaitable[int]], requests: int) -> int:
    gate = asyncio.Semaphore(INFLIGHT)

    async def one() -> int:
        async with gate:
            return await work()

    return sum(await asyncio.gather(*(one() for _ in range(requests))))


def raw_client(
    base: str, texts: list[str], compact: bool
) -> tuple[Callable[[], Awaitable[int]], Any]:
    import aiohttp
    import orjson

    session = aiohttp.ClientSession()
    body: dict[str, Any] = {"model": "bench-embed", "input": texts}
    if compact:
        body["encoding_format"] = "base64"
    url = base + "/embeddings"

    async def work() -> int:
        async with session.post(url, json=body) as resp:
            payload = orjson.loads(await resp.read())
        vectors = [item["embedding"] for item in payload["data"]]
        if compact:
            vectors = [array("f", base64.b64decode(v)).tolist() for v in vectors]
        return len(vectors)

    return work, session.close


def polymux_client(
    base: str, texts: list[str], compact: bool
) -> tuple[Callable[[], Awaitable[int]], Any]:
    from polymux import AsyncClient
    from polymux.providers.openai import OpenAI

    if compact:
        client = AsyncClient(provider=OpenAI(api_key="bench", base_url=base))
    else:
        client = AsyncClient(base_url=base)

    async def work() -> int:
        response = await client.embeddings.create(model="bench-embed", input=texts)
        return len(response.data)

    return work, client.close


async def measure(base: str, args: argparse.Namespace, compact: bool) -> dict[str, list[float]]:
    texts = _texts(args.batch)
    makers = {"raw": raw_client, "polymux": polymux_client}
    clients = {name: make(base, texts, compact) for name, make in makers.items()}
    for work, _ in clients.values():  # warm: connections, imports, caches
        await _run(work, INFLIGHT)
    per_k: dict[str, list[float]] = {name: [] for name in clients}
    names = list(clients)
    for round_ in range(args.rounds):
        for name in names[round_ % 2 :] + names[: round_ % 2]:
            work = clients[name][0]
            start = time.process_time()
            inputs = await _run(work, args.requests)
            per_k[name].append((time.process_time() - start) * 1000.0 / inputs * 1000.0)
    for _, close in clients.values():
        await close()
    return per_k


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--dims", type=int, default=1536)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.requests = 4, 10
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    cpu, mine = cpus()
    proc = ctx.Process(target=_main, args=(queue, cpu, args.batch, args.dims), daemon=True)
    proc.start()
    try:
        base = f"http://{upstream.HOST}:{queue.get(timeout=30)}/v1"
        if mine and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, mine)
        print(
            f"{args.rounds} rounds x {args.requests} requests x {args.batch} inputs, "
            f"{args.dims} dims, {INFLIGHT} in flight; CPU ms per 1,000 inputs, lowest (median)"
        )
        for compact in (False, True):
            per_k = asyncio.run(measure(base, args, compact))
            floor = min(per_k["raw"])
            floor_median = statistics.median(per_k["raw"])
            label = "base64" if compact else "float"
            for name, values in per_k.items():
                low, med = min(values), statistics.median(values)
                print(
                    f"  {label:6} {name:8} {low:8.2f} ms ({med:.2f})  "
                    f"{low / floor:.2f}x ({med / floor_median:.2f}x)"
                )
    finally:
        proc.terminate()
        proc.join(5)


if __name__ == "__main__":
    main()
