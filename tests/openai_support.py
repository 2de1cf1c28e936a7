"""Constants and the client of the OpenAI-dialect provider tests."""

from __future__ import annotations

from typing import Any

from polymux import AsyncClient

from .fakes import FakeServer

SECRET = "sk-proj-SECRET-never-show-9f8e7d"
MSGS = [{"role": "user", "content": "hi"}]
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00"
    b"\x00\x00\x00IEND\xaeB`\x82"
)


def client_for(server: FakeServer, **kwargs: Any) -> AsyncClient:
    return AsyncClient(base_url=server.url("/v1"), api_key="sk-test", **kwargs)
