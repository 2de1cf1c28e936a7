"""Anthropic Messages answers -> polymux events. Pure functions.

``StreamState.events`` turns one server-sent event into events; ``message_events`` does the
same for a whole (non-streamed) Message by replaying it as the events a stream would have
sent, so both paths share one translation. The events and blocks are those of Anthropic's
Messages API reference (docs.anthropic.com/en/api/messages and /en/api/messages-streaming).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from ..dialects.anthropic import ERROR_STATUS, STOP_TO_FINISH
from ..errors import APIError, status_error
from ..transport.redact import redact_value
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
from .anthropic_wire import RESPONSE_TOOL

__all__ = ["StreamState", "error_event", "map_stop_reason", "message_events"]


def map_stop_reason(value: Any) -> FinishReason:
    return STOP_TO_FINISH.get(value, "stop") if isinstance(value, str) else "stop"


# -- response ----------------------------------------------------------------------------------
def error_event(payload: Mapping[str, Any], provider: str) -> APIError:
    """The typed error for an ``error`` event (or a 200 body of type error), redacted like
    every error built from upstream text (transport/redact.py)."""
    payload = redact_value(payload)
    error = payload.get("error")
    kind = error.get("type") if isinstance(error, Mapping) else None
    message = (error.get("message") if isinstance(error, Mapping) else None) or str(kind)
    status = ERROR_STATUS.get(kind) if isinstance(kind, str) else None
    if status is None:
        return APIError(f"{kind}: {message}", provider=provider, body=dict(payload))
    return status_error(status, message, provider=provider, body=dict(payload))


def _usage(usage: Mapping[str, Any], input_tokens: int, cached: int | None) -> Usage:
    return Usage(input_tokens, int(usage.get("output_tokens") or 0), cached)


class StreamState:
    """What one message's translation remembers between events."""

    __slots__ = (
        "blocks",
        "cached",
        "finished",
        "input_tokens",
        "json_tool",
        "provider",
        "stopped",
        "thinking",
        "tool_count",
        "tool_ids",
    )

    def __init__(self, provider: str, *, json_tool: bool = False) -> None:
        self.provider = provider
        #: A response_format was asked for: the RESPONSE_TOOL's input is the answer text.
        self.json_tool = json_tool
        # content-block index -> ("text"|"json", -1), ("tool", tool call index) or
        # ("thinking", position in ``thinking``)
        self.blocks: dict[int, tuple[str, int]] = {}
        self.tool_count = 0
        #: This message's thinking blocks (text as pieces until ``remembered``) and tool-call
        #: ids: the blocks must go back verbatim, signature included, with those calls.
        self.thinking: list[dict[str, Any]] = []
        self.tool_ids: list[str] = []
        self.input_tokens = 0
        self.cached: int | None = None
        self.finished = False  # a stop_reason arrived
        self.stopped = False  # message_stop arrived

    def _start_block(self, index: int, block: Mapping[str, Any]) -> Iterator[ChatEvent]:
        kind = block.get("type")
        if kind == "tool_use":
            if self.json_tool and block.get("name") == RESPONSE_TOOL:
                self.blocks[index] = ("json", -1)
                return
            call = self.tool_count
            self.tool_count += 1
            self.blocks[index] = ("tool", call)
            if block.get("id"):
                self.tool_ids.append(str(block["id"]))
            yield ToolCallDelta(call, block.get("id"), block.get("name"), "")
        elif kind == "text":
            self.blocks[index] = ("text", -1)
            text = block.get("text")
            if text:  # normally empty; content follows in deltas
                yield TextDelta(text)
        elif kind == "thinking":
            self.blocks[index] = ("thinking", len(self.thinking))
            text = block.get("thinking") or ""  # whole in a Message, empty in a stream
            signature = block.get("signature") or ""
            self.thinking.append({"type": "thinking", "thinking": [text], "signature": signature})
            if text:
                yield ReasoningDelta(text)
        elif kind == "redacted_thinking":  # nothing to show, but it must go back too
            self.thinking.append({"type": "redacted_thinking", "data": block.get("data")})
        # server-tool blocks: nothing an OpenAI client can show

    def _delta(self, index: int, delta: Mapping[str, Any]) -> Iterator[ChatEvent]:
        kind = delta.get("type")
        if kind == "text_delta":
            text = delta.get("text")
            if text:
                yield text
        elif kind == "input_json_delta":
            piece = delta.get("partial_json")
            if not piece:
                return
            block, call = self.blocks.get(index, ("", -1))
            if block == "tool":
                yield ToolCallDelta(call, None, None, piece)
            elif block == "json":
                yield piece
        elif kind == "thinking_delta":
            text = delta.get("thinking")
            if text:
                block, at = self.blocks.get(index, ("", -1))
                if block == "thinking":
                    self.thinking[at]["thinking"].append(text)
                yield ReasoningDelta(text)
        elif kind == "signature_delta":
            block, at = self.blocks.get(index, ("", -1))
            if block == "thinking":
                self.thinking[at]["signature"] += delta.get("signature") or ""
        # citations_delta and newer delta types carry nothing to show

    def remembered(self) -> dict[str, list[dict[str, Any]]]:
        """This message's thinking blocks, by the id of each tool call they led to."""
        if not self.thinking or not self.tool_ids:
            return {}
        blocks = [
            {**b, "thinking": "".join(b["thinking"])} if b["type"] == "thinking" else b
            for b in self.thinking
        ]
        return dict.fromkeys(self.tool_ids, blocks)

    def events(self, kind: str, payload: Mapping[str, Any]) -> Iterator[ChatEvent]:
        """Events of one server-sent event (``kind`` is its type)."""
        if kind == "content_block_delta":
            yield from self._delta(payload.get("index", 0), payload.get("delta") or {})
        elif kind == "content_block_start":
            yield from self._start_block(
                payload.get("index", 0), payload.get("content_block") or {}
            )
        elif kind == "message_start":
            message = payload.get("message") or {}
            usage = message.get("usage") or {}
            cache_read = usage.get("cache_read_input_tokens")
            self.cached = int(cache_read) if cache_read is not None else None
            self.input_tokens = (
                int(usage.get("input_tokens") or 0)
                + int(usage.get("cache_creation_input_tokens") or 0)
                + int(cache_read or 0)
            )
            yield ResponseInfo(message.get("id"), message.get("model"))
        elif kind == "message_delta":
            usage = payload.get("usage") or {}
            if usage.get("input_tokens") is not None:  # newer versions send cumulative input
                cache_read = usage.get("cache_read_input_tokens")
                if cache_read is not None:
                    self.cached = int(cache_read)
                self.input_tokens = (
                    int(usage.get("input_tokens") or 0)
                    + int(usage.get("cache_creation_input_tokens") or 0)
                    + int(self.cached or 0)
                )
            reason = (payload.get("delta") or {}).get("stop_reason")
            if reason:
                self.finished = True
                finish = map_stop_reason(reason)
                if finish == "tool_calls" and self.json_tool and not self.tool_count:
                    finish = "stop"  # the only tool used carried the JSON answer
                yield Finish(finish)
            yield _usage(usage, self.input_tokens, self.cached)
        elif kind == "message_stop":
            self.stopped = True
        elif kind == "error":
            raise error_event(payload, self.provider)
        # ping, content_block_stop and unknown events: nothing to do


def message_events(payload: Mapping[str, Any], state: StreamState) -> list[ChatEvent]:
    """Events of a whole Message (the non-streaming answer), through the stream translation
    (``state`` is fresh; it keeps what a stream's state would, such as thinking blocks)."""
    if payload.get("type") == "error":
        raise error_event(payload, state.provider)
    start = {k: v for k, v in payload.items() if k not in ("content", "stop_reason")}
    events = list(state.events("message_start", {"message": start}))
    for index, block in enumerate(payload.get("content") or ()):
        kind = block.get("type")
        if kind == "tool_use":
            head = {**block, "input": {}}
            events += state._start_block(index, head)
            raw = orjson.dumps(block.get("input") or {}).decode()
            events += state._delta(index, {"type": "input_json_delta", "partial_json": raw})
        else:
            events += state._start_block(index, block)
    usage = payload.get("usage") or {}
    delta = {"stop_reason": payload.get("stop_reason") or "end_turn"}
    events += state.events("message_delta", {"delta": delta, "usage": usage})
    return events
