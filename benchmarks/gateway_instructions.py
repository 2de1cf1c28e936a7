"""Instructions per request and per streamed chunk of the gateway against its floor (callgrind).

    .venv/bin/python benchmarks/gateway_instructions.py [--servers floor,polymux]
        [--requests 600] [--streams 30] [--rounds 1] [--revisions A,B] [--top 25]

CPU time on a shared machine moves by 10-40 % between batches of the same server; the count
of instructions a server executes does not depend on what else runs. Each server (the floor
of gateway.py, and ``polymux serve`` with every feature on: an API key, the usage log, the
limits, metrics, request ids) runs under ``valgrind --tool=callgrind --instr-atstart=no``;
after a warm-up (100 requests, 5 streams, the connections kept open) the script switches
instrumentation on (``callgrind_control -i on``), sends 600 requests at concurrency 20 (or
30 streams of 200 chunks, 5 at a time), waits for the usage writer's next write, switches it
off and dumps the counts (``callgrind_control -d``). Every thread of the server is counted
(the usage writer's too). ``callgrind_annotate`` gives the total, and the inclusive count of
``gc_collect_main``: whether a full collection of the cyclic GC falls inside the window moves
a request's count by 10-50 k between runs of the same code, so the ratios are printed with
and without it.

Servers (``--servers``, comma-separated):

- ``floor``: the raw ASGI + aiohttp proxy of gateway.py (the ratios are against it).
- ``polymux``: ``polymux serve --base-url`` as gateway.py starts it. ``--revisions A,B``
  runs it (and ``polymux-raw``) at those commits instead (exported with ``git archive``).
- ``polymux-raw``: the same gateway with its chat handler replaced by a raw aiohttp call
  (the body read and checked by the gateway, the model checked against the key, the call
  under the disconnect watcher, the answer or each SSE line passed back as it came): what
  the server layer costs on its own, around any handler.

``--top N`` prints each server's N functions with the most inclusive instructions a request
(``callgrind_annotate --inclusive=yes``); ``--keep DIR`` keeps the callgrind files there.
A few minutes for the default servers (each about a minute and a half under valgrind).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway import Server, run_load, start_floor, start_polymux
from upstream import Upstream

#: Chunks a benchmark stream carries (the upstream adds a role, a finish and a usage event).
CHUNKS = 200
GC = "gc_collect_main"

#: ``polymux serve`` with a raw aiohttp call as its chat handler (mode ``polymux-raw``).
RAW_HANDLER_APP = r"""
import inspect
import sys

import aiohttp
import orjson

from polymux.cli import main
from polymux.server import app, asgi

URL = sys.argv[sys.argv.index("--base-url") + 1] + "/chat/completions"
HEADERS = {"content-type": "application/json", "authorization": "Bearer bench"}
SSE = [(b"content-type", b"text/event-stream")]
session = None
# Revisions before the server's ConnectionWatch took the receive callable, not the call.
WHOLE_CALL = "exchange" in inspect.signature(asgi.until_disconnect).parameters


async def raw(gateway, call):
    global session
    body = await gateway.read_json(call)
    call.use_model(body.get("model"))
    session = session or aiohttp.ClientSession()
    exchange = call if WHOLE_CALL else call.receive
    await asgi.until_disconnect(exchange, relay(call, orjson.dumps(body)))


async def relay(call, data):
    async with session.post(URL, data=data, headers=HEADERS) as resp:
        if resp.content_type != "text/event-stream":
            data = await resp.read()
            return await asgi.send_bytes(call.send, resp.status, data, [asgi.JSON_TYPE])
        await call.send({"type": "http.response.start", "status": resp.status, "headers": SSE})
        call.responded = True
        async for line in resp.content:
            if line.startswith(b"data: "):
                message = {"type": "http.response.body", "body": line + b"\n", "more_body": True}
                await call.send(message)
        await call.send({"type": "http.response.body", "body": b""})


routes = app._routes


def raw_routes():
    exact, prefixed = routes()
    exact["/v1/chat/completions"] = {"POST": raw}
    return exact, prefixed


app._routes = raw_routes
sys.argv[0] = "polymux"
sys.exit(main())
"""


@dataclass
class Counts:
    """One dump: instructions in all, in the cyclic GC, and the units of work they did."""

    total: int
    gc: int
    items: int
    top: list[tuple[int, str]] = field(default_factory=list)

    def per(self, without_gc: bool = False) -> float:
        return (self.total - (self.gc if without_gc else 0)) / max(self.items, 1)


@dataclass
class Measured:
    server: Server
    out: Path
    requests: list[Counts] = field(default_factory=list)
    chunks: list[Counts] = field(default_factory=list)


def valgrind(out: Path) -> list[str]:
    return [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={out}",
        sys.executable,
    ]


def control(server: Server, *options: str) -> None:
    subprocess.run(
        ["callgrind_control", *options, str(server.proc.pid)], check=True, capture_output=True
    )


def annotate(path: Path, items: int, top: int) -> Counts:
    text = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    total = gc = 0
    functions: list[tuple[int, str]] = []
    for line in text.splitlines():
        match = re.match(r"\s*([\d,]+)\s+(?:\([\s\d.%]+\)\s+)?(.+)$", line)
        if match is None:
            continue
        count, name = int(match.group(1).replace(",", "")), match.group(2).strip()
        if "PROGRAM TOTALS" in name:
            total = count
        elif ":" in name and "'" not in name:  # 'N: a recursion cycle, counted twice
            where, _, function = name.partition(" ")[0].rpartition(":")
            functions.append((count, f"{function} ({Path(where).name})"))
            if function == GC:
                gc = max(gc, count)
    functions.sort(reverse=True)
    return Counts(total, gc, items, functions[:top])


async def window(measured: Measured, kind: str, count: int, concurrency: int, top: int) -> Counts:
    """Instructions of ``count`` requests or streams, counted by callgrind. A session of its
    own: the server closes connections left idle for 5 s (uvicorn's keep-alive limit), as
    they are while the last window's counts are read."""
    server = measured.server
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        await run_load(session, server, kind, concurrency, concurrency)  # the connections open
        await asyncio.sleep(0.6)  # the usage writer has written what the warm-up left
        before = set(measured.out.parent.glob(measured.out.name + "*"))
        control(server, "--instr=on")
        items = await run_load(session, server, kind, count, concurrency)
        await asyncio.sleep(0.6)  # and now what this window left (it writes every 0.25 s)
        control(server, "--instr=off")
        control(server, "--dump")
    for _ in range(100):
        dumps = set(measured.out.parent.glob(measured.out.name + "*")) - before
        if dumps:
            break
        await asyncio.sleep(0.1)
    else:
        raise RuntimeError(f"{server.name}: callgrind wrote no dump")
    (dump,) = dumps
    await asyncio.sleep(0.2)  # let callgrind finish writing it
    return annotate(dump, items, top)


async def measure(measured: Measured, args: argparse.Namespace) -> None:
    if not measured.requests:  # warm up: imports, pools, caches
        async with aiohttp.ClientSession() as session:
            await run_load(session, measured.server, "requests", 100, 20)
            await run_load(session, measured.server, "streams", 5, 5)
    measured.requests.append(await window(measured, "requests", args.requests, 20, args.top))
    measured.chunks.append(await window(measured, "streams", args.streams, 5, args.top))
    r, c = measured.requests[-1], measured.chunks[-1]
    print(
        f"{measured.server.name:>16}: {r.per() / 1000:8.1f} k a request "
        f"({r.per(True) / 1000:7.1f} k without GC), "
        f"{c.per() / 1000:6.2f} k a chunk ({c.per(True) / 1000:6.2f} k)",
        flush=True,
    )


def start(name: str, upstream: str, tmp: Path) -> Measured:
    """Start server ``name`` (``floor``, ``polymux``, ``polymux-raw``, optionally ``@REV``)
    under callgrind."""
    kind, _, revision = name.partition("@")
    out = tmp / f"callgrind.{name.replace('@', '-')}"
    launcher = valgrind(out)
    if kind == "floor":
        return Measured(start_floor(upstream, tmp, launcher=launcher), out)
    home = tmp / name  # a database of its own
    home.mkdir()
    if kind == "polymux-raw":
        runner = home / "raw_handler.py"
        runner.write_text(RAW_HANDLER_APP)
        launcher.append(str(runner))
    else:
        launcher += ["-m", "polymux"]
    server = start_polymux(upstream, home, revision or None, launcher=launcher)
    server.name = name
    return Measured(server, out)


async def run(args: argparse.Namespace, tmp: Path) -> list[Measured]:
    names = args.servers.split(",")
    if args.revisions:
        revisions = args.revisions.split(",")
        names = [n if n == "floor" else f"{n}@{r}" for n in names for r in revisions]
        names = list(dict.fromkeys(names))
    with Upstream(chunks=CHUNKS) as upstream:
        started = [start(name, upstream, tmp) for name in names]
        try:
            up = await asyncio.gather(*(m.server.wait_up(600) for m in started))
            measured = [m for m, ok in zip(started, up) if ok]
            for m, ok in zip(started, up):
                if not ok:
                    print(f"{m.server.name}: did not come up, skipped\n{m.server.output()}")
            for round_no in range(args.rounds):
                shift = round_no % len(measured)
                for m in measured[shift:] + measured[:shift]:
                    await measure(m, args)
        finally:
            for m in started:
                m.server.stop()
    return measured


def report(measured: list[Measured], top: int) -> None:
    floor = next((m for m in measured if m.server.name == "floor"), None)
    print("\ninstructions (lowest of the rounds), and the ratio to the floor's")
    print(
        f"{'server':>16}  {'a request':>10} {'x floor':>7}  {'without GC':>10} {'x floor':>7}"
        f"  {'a chunk':>8} {'x floor':>7}  {'without GC':>10} {'x floor':>7}"
    )
    for m in measured:
        cells = []
        for counts, base in (
            (m.requests, floor and floor.requests),
            (m.chunks, floor and floor.chunks),
        ):
            for without_gc in (False, True):
                value = min(c.per(without_gc) for c in counts)
                ratio = value / min(c.per(without_gc) for c in base) if base else float("nan")
                cells.append(f"{value / 1000:9.1f}k {ratio:6.2f}x")
        print(f"{m.server.name:>16}  " + "  ".join(cells))
    if top:
        for m in measured:
            for kind, last in (("request", m.requests[-1]), ("chunk", m.chunks[-1])):
                print(f"\n{m.server.name}: the top functions, inclusive, a {kind}")
                for count, name in last.top:
                    print(f"{count / last.items / 1000:10.1f}k  {name[:110]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", default="floor,polymux", help="floor, polymux, polymux-raw")
    parser.add_argument("--requests", type=int, default=600, help="requests counted (c=20)")
    parser.add_argument(
        "--streams", type=int, default=30, help=f"streams of {CHUNKS} chunks (5 at a time)"
    )
    parser.add_argument("--rounds", type=int, default=1, help="measurements a server")
    parser.add_argument("--revisions", help="comma-separated git revisions of the gateway")
    parser.add_argument("--top", type=int, default=0, help="print the top N functions")
    parser.add_argument("--keep", type=Path, help="keep the callgrind files in this folder")
    args = parser.parse_args()
    for tool in ("valgrind", "callgrind_control", "callgrind_annotate"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (apt-get install valgrind)")
    print(
        f"callgrind instructions of each server process (every thread): {args.requests} "
        f"requests at concurrency 20, {args.streams} streams of {CHUNKS} chunks 5 at a time"
    )
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        measured = asyncio.run(run(args, tmp))
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            for dump in tmp.glob("callgrind.*"):
                shutil.copy(dump, args.keep)
    if measured:
        report(measured, args.top)


if __name__ == "__main__":
    main()
