"""Real Redis and PostgreSQL servers for the tests of the gateway's shared state.

Each is started once per test session on a free port on 127.0.0.1, with its data in a
temporary folder, and stopped at the end. They are the real servers (Debian's redis-server
and postgresql packages, installed by ``make services``), not fakes. Without them, the tests
that need them are skipped, except under CI, where a missing server is a failure: CI must
exercise the distributed paths.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["PostgresServer", "RedisServer", "start_postgres", "start_redis"]

_PG_BIN = Path("/usr/lib/postgresql")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _missing(what: str) -> None:
    message = f"{what} is not installed (run `make services`)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _wait_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} at start")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout} s")


@dataclass
class RedisServer:
    """A running redis-server; ``stop``/``start`` simulate an outage on the same port."""

    port: int
    folder: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
                "--protected-mode",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_port(self.port, self.proc, "redis-server")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


def start_redis() -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        _missing("redis-server")
    with tempfile.TemporaryDirectory(prefix="polymux-redis-") as folder:
        server = RedisServer(_free_port(), Path(folder))
        server.start()
        try:
            yield server
        finally:
            server.stop()


def _pg_bin() -> Path | None:
    versions = sorted(_PG_BIN.glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    return versions[-1].parent if versions else None


@dataclass
class PostgresServer:
    """A running PostgreSQL cluster with a ``polymux`` database and a trusted local user."""

    port: int
    folder: Path
    bin: Path
    user: str | None  # the OS user the server runs as when the tests run as root

    @property
    def url(self) -> str:
        return f"postgresql://polymux@127.0.0.1:{self.port}/polymux"

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> None:
        self._run(
            "pg_ctl",
            "-D",
            str(self.folder / "data"),
            "-w",
            "-t",
            "60",
            "-l",
            str(self.folder / "log"),
            "-o",
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-w", "-m", "fast", "stop")


def start_postgres() -> Iterator[PostgresServer]:
    bin = _pg_bin()
    if bin is None:
        _missing("PostgreSQL")
        return
    # PostgreSQL refuses to run as root: the server then runs as the `postgres` user the
    # Debian package creates.
    user = "postgres" if os.geteuid() == 0 else None
    with tempfile.TemporaryDirectory(prefix="polymux-pg-") as folder:
        path = Path(folder)
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(path, entry.pw_uid, entry.pw_gid)
        server = PostgresServer(_free_port(), path, bin, user)
        server._run(
            "initdb",
            "-D",
            str(path / "data"),
            "-U",
            "polymux",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        server.start()
        try:
            server._run(
                "createdb", "-h", "127.0.0.1", "-p", str(server.port), "-U", "polymux", "polymux"
            )
            yield server
        finally:
            server.stop()
