"""Reading the OpenAI-shaped parts of a request, for providers that translate them into
another dialect (Anthropic, Gemini, Ollama). One place, so each dialect agrees."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from ..errors import InvalidRequestError
from ..types.request import content_text

__all__ = ["content_text", "tool_call_arguments"]


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
