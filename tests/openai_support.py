"""Shared pieces of the OpenAI-dialect provider tests: the fake host fixture and helpers."""

from __future__ import annotations

from typing import Any

from openai.types.chat import ChatCompletion as OpenAIChatCompletion
from openai.types.chat import ChatCompletionChunk as OpenAIChunk

from modelmux import AsyncClient

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


async def read_chunks(stream: Any) -> list[Any]:
    out = [c async for c in stream]
    for c in out:
        OpenAIChunk.model_validate(c.model_dump())
    return out


def text_of(chunks: list[Any], index: int = 0) -> str:
    return "".join(ch.delta.content or "" for c in chunks for ch in c.choices if ch.index == index)


def tool_calls_of(chunks: list[Any]) -> dict[int, dict[str, str]]:
    """Tool calls reassembled from deltas by index, as an SDK user does."""
    calls: dict[int, dict[str, str]] = {}
    for c in chunks:
        for ch in c.choices:
            for d in ch.delta.tool_calls or ():
                call = calls.setdefault(d.index, {"id": "", "name": "", "arguments": ""})
                if d.id:
                    call["id"] = d.id
                if d.function and d.function.name:
                    call["name"] = d.function.name
                if d.function and d.function.arguments:
                    call["arguments"] += d.function.arguments
    return calls


def valid(response: Any) -> Any:
    OpenAIChatCompletion.model_validate(response.model_dump())
    return response
