"""Helpers shared by the provider test modules: read streams as an SDK user does, and check
every object with the official ``openai`` types on the way."""

from __future__ import annotations

from typing import Any

from openai.types.chat import ChatCompletion as OpenAIChatCompletion
from openai.types.chat import ChatCompletionChunk as OpenAIChunk

#: A tool with one required argument, as the provider tests offer it.
WEATHER: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


class Clock:
    """A settable clock for health stores and cooldowns (``clock.now += 31``)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


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
