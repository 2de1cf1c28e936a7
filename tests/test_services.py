"""The real Redis and PostgreSQL servers the shared-state tests run against start, answer and
survive an outage (stop, then start again on the same port)."""

from __future__ import annotations

import socket

from .services import PostgresServer, RedisServer


def _redis_ping(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"*1\r\n$4\r\nPING\r\n")
        return sock.recv(64)


def test_redis_answers_and_restarts(redis_server: RedisServer) -> None:
    assert _redis_ping(redis_server.port) == b"+PONG\r\n"
    redis_server.stop()
    redis_server.start()
    assert _redis_ping(redis_server.port) == b"+PONG\r\n"


def test_postgres_accepts_connections(postgres_server: PostgresServer) -> None:
    with socket.create_connection(("127.0.0.1", postgres_server.port), timeout=5):
        pass
    assert postgres_server.url.endswith(f":{postgres_server.port}/polymux")
