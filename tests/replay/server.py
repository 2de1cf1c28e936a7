"""The recordings, and one loopback server that answers each with its recorded status, content
type and body, written in small awkward pieces over a real socket.

Each interaction has a key; a provider's base URL is ``/r/<key>/...`` on the server, so one
server (shared by a whole test module) answers every interaction, and what each request sent
is kept under its own key, never shared between tests.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

#: Where CI puts the shared folder: beside the clone, as ../shared. POLYMUX_RECORDINGS names
#: another folder (a worktree whose parent holds no shared/).
RECORDINGS = Path(
    os.environ.get("POLYMUX_RECORDINGS")
    or Path(__file__).resolve().parents[2].parent / "shared" / "recordings"
)

#: Sizes of the pieces a body is written in, cycled: one byte, odd primes, a few larger ones,
#: so SSE lines, JSON objects, CRLFs and UTF-8 sequences are split in many places.
PIECES = (1, 7, 3, 61, 2, 251, 13, 1021, 5, 127)


@dataclass(frozen=True)
class Interaction:
    key: str  # "<cassette file stem>#<position>"
    source: str
    provider: str
    stream: bool
    method: str
    uri: str
    request: Any
    status: int
    content_type: str
    body: str


def load(folder: Path = RECORDINGS) -> list[Interaction]:
    out = []
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text())
        source = data.get("source", {}).get("repo", "")
        for position, item in enumerate(data["interactions"]):
            if item.get("kind") != "chat":
                continue
            response = item["response"]
            body = response["body"]
            out.append(
                Interaction(
                    f"{path.stem.removesuffix('.yaml')}#{position}",
                    source,
                    item["provider"],
                    bool(item.get("stream")),
                    item["request"]["method"],
                    item["request"]["uri"],
                    item["request"]["body"],
                    int(response["status"]),
                    response.get("content_type") or "application/json",
                    body if isinstance(body, str) else json.dumps(body),
                )
            )
    return out


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class ReplayServer:
    """A threaded HTTP/1.1 server; ``/r/<n>/...`` answers with ``answers[n]``."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, str, bytes]] = []
        self.received: dict[int, list[Received]] = {}
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                parts = self.path.split("/", 3)
                try:
                    number = int(parts[2])
                    status, content_type, body = server.answers[number]
                except (IndexError, ValueError):
                    self.send_error(404)
                    return
                try:
                    parsed = json.loads(raw) if raw else None
                except ValueError:
                    parsed = raw
                with server._lock:
                    server.received.setdefault(number, []).append(
                        Received(self.command, "/" + parts[3], dict(self.headers), parsed)
                    )
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.flush()
                at = i = 0
                while at < len(body):
                    size = PIECES[i % len(PIECES)]
                    self.wfile.write(body[at : at + size])
                    self.wfile.flush()
                    at += size
                    i += 1

            do_GET = do_POST

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def server_bind(self) -> None:
                self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                super().server_bind()

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def add(self, status: int, content_type: str, body: bytes) -> int:
        self.answers.append((status, content_type, body))
        return len(self.answers) - 1

    def url(self, number: int) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/r/{number}"

    def __enter__(self) -> ReplayServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
