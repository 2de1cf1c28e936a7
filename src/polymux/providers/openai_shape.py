"""Reading the OpenAI-shaped parts of a request, for providers that translate them into
another dialect (Anthropic, Gemini, Ollama). One place, so each dialect agrees."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from ..errors import InvalidRequestError
from ..types.request import WEB_SEARCH, content_text

__all__ = [
    "WEB_SEARCH",
    "content_text",
    "effort_budget",
    "extra_fields",
    "merge_turns",
    "tool_call_arguments",
]

#: A dialect's translation of one non-system message: (index, message) -> (role, blocks).
Turn = Callable[[int, Mapping[str, Any]], tuple[str, list[dict[str, Any]]]]


def merge_turns(
    messages: Sequence[Mapping[str, Any]], turn: Turn, key: str
) -> tuple[list[str], list[dict[str, Any]]]:
    """(system texts, turns) for dialects that keep the system prompt apart and want turns to
    alternate (Anthropic, Gemini): the texts of system and developer messages; every other
    message through ``turn``, consecutive turns of one role merged into one (their blocks
    under ``key``), a message with no blocks left out."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        if message.get("role") in ("system", "developer"):
            text = content_text(message.get("content"))
            if text:
                system.append(text)
            continue
        role, blocks = turn(index, message)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1][key].extend(blocks)
        else:
            turns.append({"role": role, key: blocks})
    return system, turns


def effort_budget(effort: str, budgets: Mapping[str, int]) -> int:
    """The thinking budget a ``reasoning_effort`` stands for in a dialect's table (0: off);
    a clear error for a word the table does not know."""
    budget = budgets.get(effort)
    if budget is None:
        raise InvalidRequestError(
            f"reasoning_effort must be one of {', '.join(budgets)}, got {effort!r}"
        )
    return budget


def tool_call_arguments(call: Mapping[str, Any], provider: str) -> dict[str, Any]:
    """An assistant tool call's arguments (OpenAI sends a JSON string) as the JSON object the
    other dialects want; a clear error when they are not one."""
    fn = call.get("function") or {}
    raw = fn.get("arguments")
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}
    try:
        arguments = orjson.loads(raw) if isinstance(raw, (str, bytes)) else raw
    except orjson.JSONDecodeError:
        arguments = None
    if not isinstance(arguments, dict):
        raise InvalidRequestError(
            f"tool call {call.get('id')!r} has arguments that are not a JSON object; "
            f"{provider} needs tool-call arguments as objects"
        )
    return arguments


def extra_fields(extra_body: Mapping[str, Any]) -> dict[str, Any]:
    """``extra_body`` without what a translating provider maps itself (``WEB_SEARCH``)."""
    return {k: v for k, v in extra_body.items() if k != WEB_SEARCH}
