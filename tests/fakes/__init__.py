"""Fake provider servers for the tests: real sockets on 127.0.0.1, real wire formats."""

from .server import FakeServer, Recorded, json, reset, sse, sse_data, stall, stream_bytes, text

__all__ = [
    "FakeServer",
    "Recorded",
    "json",
    "reset",
    "sse",
    "sse_data",
    "stall",
    "stream_bytes",
    "text",
]
