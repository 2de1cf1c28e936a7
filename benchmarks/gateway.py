"""Requests/s and added latency through the gateway, against a direct call to the same upstream.

    .venv/bin/python benchmarks/gateway.py [--seconds 5] [--requests-c1 400]

The upstream is a minimal HTTP server (raw asyncio + uvloop, one canned chat completion) in
its own process pinned to the last core; the gateway (``polymux serve --base-url``) runs in a
process pinned to the first core; the load generator (aiohttp) shares the upstream's core.
Measured in one run: direct, gateway, and LiteLLM's proxy when ``litellm`` is installed
(``litellm[proxy]``, pointed at the same upstream; not a dependency of polymux).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

BODY = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1767225600,
        "model": "bench-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello! How can I help?"},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 9, "completion_tokens": 7, "total_tokens": 16},
    }
).encode()
REQUEST = {"model": "bench-model", "messages": [{"role": "user", "content": "Hello"}]}

UPSTREAM_CODE = r"""
import asyncio, sys
try:
    import uvloop; uvloop.install()
except ImportError:
    pass
BODY = sys.stdin.buffer.read()
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)
MODELS = (b'{"object":"list","data":[{"id":"bench-model","object":"model","created":0,'
          b'"owned_by":"x"}]}')
MODELS_RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                   + str(len(MODELS)).encode() + b"\r\n\r\n" + MODELS)

class Proto(asyncio.Protocol):
    def connection_made(self, transport):
        self.t = transport; self.buf = b""
    def data_received(self, data):
        self.buf += data
        while True:
            head, sep, rest = self.buf.partition(b"\r\n\r\n")
            if not sep:
                return
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(rest) < length:
                return
            self.buf = rest[length:]
            self.t.write(MODELS_RESPONSE if head.startswith(b"GET") else RESPONSE)

async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Proto, "127.0.0.1", int(sys.argv[1]), backlog=1024)
    print("ready", flush=True)
    await server.serve_forever()

asyncio.run(main())
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pin(cpu: int) -> list[str]:
    """A command prefix pinning a process to one core (when taskset and the core exist)."""
    if shutil.which("taskset") and cpu < (os.cpu_count() or 1):
        return ["taskset", "-c", str(cpu)]
    return []


async def wait_up(url: str, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < end:
            try:
                async with session.get(url) as resp:
                    if resp.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


async def load(url: str, concurrency: int, seconds: float, count: int | None) -> dict[str, float]:
    """Closed-loop load: ``concurrency`` workers, each sending its next request as soon as the
    previous one is answered."""
    latencies: list[float] = []
    errors = 0
    payload = json.dumps(REQUEST).encode()
    headers = {"Content-Type": "application/json", "Authorization": "Bearer bench"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        for _ in range(20):  # warm up connections and caches
            async with session.post(url, data=payload, headers=headers) as resp:
                await resp.read()
        start = time.perf_counter()
        deadline = start + seconds

        async def worker() -> None:
            nonlocal errors
            while True:
                if count is not None and len(latencies) >= count:
                    return
                if count is None and time.perf_counter() >= deadline:
                    return
                t0 = time.perf_counter()
                async with session.post(url, data=payload, headers=headers) as resp:
                    await resp.read()
                    if resp.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "errors": errors,
        "n": len(latencies),
    }


def start_gateway(upstream: str, port: int, tmp: Path) -> subprocess.Popen[bytes]:
    cmd = [
        *pin(0),
        sys.executable,
        "-m",
        "polymux",
        "serve",
        "--base-url",
        upstream,
        "--port",
        str(port),
        "--db",
        str(tmp / "bench.sqlite3"),
    ]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_litellm(upstream: str, port: int, tmp: Path) -> subprocess.Popen[bytes] | None:
    exe = shutil.which("litellm") or str(Path(sys.executable).with_name("litellm"))
    if not Path(exe).exists():
        return None
    config = tmp / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: bench-model\n"
        "    litellm_params:\n"
        "      model: openai/bench-model\n"
        f"      api_base: {upstream}\n"
        "      api_key: unused\n"
    )
    cmd = [*pin(0), exe, "--config", str(config), "--port", str(port), "--num_workers", "1"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def row(name: str, c: int, r: dict[str, float], base: dict[str, float] | None) -> str:
    added = f"{r['p50_ms'] - base['p50_ms']:+7.2f}" if base else "      -"
    return (
        f"{name:<10} c={c:<3} {r['rps']:>8.0f} req/s  p50 {r['p50_ms']:7.2f} ms  "
        f"p99 {r['p99_ms']:7.2f} ms  added p50 {added} ms  errors {r['errors']:.0f}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0, help="per concurrency-50 run")
    parser.add_argument("--requests-c1", type=int, default=1000, help="requests at c=1")
    args = parser.parse_args()
    if shutil.which("taskset"):
        os.sched_setaffinity(0, {(os.cpu_count() or 1) - 1})  # the load generator
    up_port, gw_port, ll_port = free_port(), free_port(), free_port()
    upstream_proc = subprocess.Popen(  # noqa: ASYNC220 - started once, before any load
        [*pin((os.cpu_count() or 1) - 1), sys.executable, "-c", UPSTREAM_CODE, str(up_port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert upstream_proc.stdin is not None and upstream_proc.stdout is not None
    upstream_proc.stdin.write(BODY)
    upstream_proc.stdin.close()
    upstream_proc.stdout.readline()
    upstream = f"http://127.0.0.1:{up_port}/v1"
    procs: list[subprocess.Popen[bytes]] = [upstream_proc]
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        try:
            targets = {"direct": f"{upstream}/chat/completions"}
            procs.append(start_gateway(upstream, gw_port, tmp))
            await wait_up(f"http://127.0.0.1:{gw_port}/health")
            targets["gateway"] = f"http://127.0.0.1:{gw_port}/v1/chat/completions"
            litellm = start_litellm(upstream, ll_port, tmp)
            if litellm is not None:
                procs.append(litellm)
                await wait_up(f"http://127.0.0.1:{ll_port}/health/liveliness", timeout=120)
                targets["litellm"] = f"http://127.0.0.1:{ll_port}/v1/chat/completions"
            else:
                print("litellm not installed: skipped (pip install 'litellm[proxy]' to compare)")
            for concurrency, seconds, count in (
                (1, 0.0, args.requests_c1),
                (50, args.seconds, None),
            ):
                base = None
                for name, url in targets.items():
                    result = await load(url, concurrency, seconds, count)
                    print(row(name, concurrency, result, base), flush=True)
                    if name == "direct":
                        base = result
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()


if __name__ == "__main__":
    asyncio.run(main())
