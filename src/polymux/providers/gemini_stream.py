"""Gemini ``GenerateContentResponse`` -> polymux events. Pure functions.

A whole answer and one streamed piece have the same shape, so ``StreamState.events`` serves
both ``:generateContent`` and ``:streamGenerateContent`` (the Gemini API reference,
ai.google.dev/api/generate-content).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from ..transport.errors import embedded_error
from ..types.events import (
    ChatEvent,
    Finish,
    FinishReason,
    ReasoningDelta,
    ResponseInfo,
    TextDelta,
    ToolCallDelta,
    Usage,
)

__all__ = ["StreamState", "map_finish_reason"]

_FINISH: dict[str, FinishReason] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    **{
        reason: "content_filter"
        for reason in (
            "SAFETY",
            "RECITATION",
            "BLOCKLIST",
            "PROHIBITED_CONTENT",
            "SPII",
            "IMAGE_SAFETY",
            "IMAGE_PROHIBITED_CONTENT",
            "IMAGE_RECITATION",
        )
    },
}


def map_finish_reason(value: Any) -> FinishReason:
    return _FINISH.get(value, "stop") if isinstance(value, str) else "stop"


# -- response ----------------------------------------------------------------------------------
def _usage(meta: Mapping[str, Any]) -> Usage:
    thoughts = meta.get("thoughtsTokenCount")
    cached = meta.get("cachedContentTokenCount")
    total = meta.get("totalTokenCount")
    return Usage(
        # What built-in tools (Google Search, URL context, code execution, file search) put
        # into the prompt is counted apart from the prompt, and billed as prompt tokens.
        int(meta.get("promptTokenCount") or 0) + int(meta.get("toolUsePromptTokenCount") or 0),
        int(meta.get("candidatesTokenCount") or 0) + int(thoughts or 0),
        int(cached) if cached is not None else None,
        int(thoughts) if thoughts is not None else None,
        int(total) if total else None,
    )


class StreamState:
    """What one answer's translation remembers between streamed pieces."""

    __slots__ = ("finished", "provider", "signatures", "started", "tool_counts")

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.started = False
        self.finished = False
        self.tool_counts: dict[int, int] = {}  # candidate -> tool calls so far
        #: tool-call id -> thoughtSignature, to send back with the call in the next turn.
        self.signatures: dict[str, str] = {}

    def events(self, payload: Mapping[str, Any]) -> Iterator[ChatEvent]:
        error = embedded_error(payload, self.provider)
        if error is not None:
            raise error
        if not self.started:
            self.started = True
            yield ResponseInfo(payload.get("responseId"), payload.get("modelVersion"))
        candidates = payload.get("candidates") or ()
        for candidate in candidates:
            index = candidate.get("index") or 0
            for part in (candidate.get("content") or {}).get("parts") or ():
                yield from self._part(part, index)
            reason = candidate.get("finishReason")
            if reason:
                self.finished = True
                yield Finish(map_finish_reason(reason), index)
        feedback = payload.get("promptFeedback")
        if not candidates and feedback and feedback.get("blockReason"):
            self.finished = True  # the prompt itself was blocked
            yield Finish("content_filter")
        meta = payload.get("usageMetadata")
        if meta:
            yield _usage(meta)

    def _part(self, part: Mapping[str, Any], index: int) -> Iterator[ChatEvent]:
        text = part.get("text")
        if text:
            if part.get("thought"):
                yield ReasoningDelta(text, index)
            else:
                yield TextDelta(text, index) if index else text
            return
        call = part.get("functionCall")
        if call:
            position = self.tool_counts.get(index, 0)
            self.tool_counts[index] = position + 1
            # Gemini's Developer API gives no call ids; OpenAI callers need one to answer.
            call_id = call.get("id") or "call_" + uuid.uuid4().hex[:24]
            if part.get("thoughtSignature"):
                self.signatures[call_id] = part["thoughtSignature"]
            arguments = orjson.dumps(call.get("args") or {}).decode()
            yield ToolCallDelta(position, call_id, call.get("name"), arguments, index)
        # inlineData (image output), executableCode and others: nothing a chat answer shows
