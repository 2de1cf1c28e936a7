"""What a provider must send back with its own earlier tool calls.

Thinking models sign their reasoning, and the signed reasoning has to come back with the tool
calls it led to when the caller continues the conversation: Gemini wants its
``thoughtSignature`` on each function call, Anthropic its thinking blocks ahead of the tool_use
blocks. OpenAI-shaped messages have no field for either, so a provider instance remembers them
by tool-call id: the id the caller sends back in the assistant message's ``tool_calls``.
Bounded, oldest first out, so a long-lived client does not grow without end.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import TypeVar

__all__ = ["MAX_REMEMBERED", "ToolCallMemory"]

#: Tool calls remembered per provider instance.
MAX_REMEMBERED = 1024

V = TypeVar("V")


class ToolCallMemory(Mapping[str, V]):
    """Tool-call id -> what must go back with that call (read like a dict)."""

    def __init__(self, limit: int = MAX_REMEMBERED) -> None:
        self._limit = limit
        self._items: OrderedDict[str, V] = OrderedDict()

    def remember(self, items: Mapping[str, V]) -> None:
        for call_id, value in items.items():
            self._items[call_id] = value
            self._items.move_to_end(call_id)
        while len(self._items) > self._limit:
            self._items.popitem(last=False)

    def __getitem__(self, call_id: str) -> V:
        return self._items[call_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)
