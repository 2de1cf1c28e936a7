"""Bodies in Anthropic's Messages wire format (messages, stream events, errors), for fakes."""

from __future__ import annotations

import json as jsonlib
from typing import Any

from .server import Action, json, stream_bytes

MESSAGES = "/v1/messages"
MODELS = "/v1/models"

Event = tuple[str, dict[str, Any]]


def message_start(
    model: str = "claude-sonnet-4-5",
    *,
    input_tokens: int = 412,
    cache_read: int = 0,
    cache_creation: int = 0,
    id: str = "msg_01XYZ",
) -> Event:
    return (
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": id,
                "type": "message",
                "role": "assistant",
                "content": [],
                "model": model,
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": input_tokens,
                    "output_tokens": 1,
                    "cache_creation_input_tokens": cache_creation,
                    "cache_read_input_tokens": cache_read,
                },
            },
        },
    )


def block_start(index: int, block: dict[str, Any]) -> Event:
    return (
        "content_block_start",
        {"type": "content_block_start", "index": index, "content_block": block},
    )


def block_delta(index: int, delta: dict[str, Any]) -> Event:
    return ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})


def block_stop(index: int) -> Event:
    return ("content_block_stop", {"type": "content_block_stop", "index": index})


def text_block(index: int, pieces: list[str]) -> list[Event]:
    return [
        block_start(index, {"type": "text", "text": ""}),
        *(block_delta(index, {"type": "text_delta", "text": p}) for p in pieces),
        block_stop(index),
    ]


def thinking_block(index: int, pieces: list[str]) -> list[Event]:
    return [
        block_start(index, {"type": "thinking", "thinking": ""}),
        *(block_delta(index, {"type": "thinking_delta", "thinking": p}) for p in pieces),
        block_delta(index, {"type": "signature_delta", "signature": "EqQBCgIYAhIM"}),
        block_stop(index),
    ]


def tool_block(index: int, id: str, name: str, json_pieces: list[str]) -> list[Event]:
    return [
        block_start(index, {"type": "tool_use", "id": id, "name": name, "input": {}}),
        block_delta(index, {"type": "input_json_delta", "partial_json": ""}),
        *(block_delta(index, {"type": "input_json_delta", "partial_json": p}) for p in json_pieces),
        block_stop(index),
    ]


def message_delta(stop_reason: str, output_tokens: int = 58) -> Event:
    return (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": output_tokens},
        },
    )


MESSAGE_STOP: Event = ("message_stop", {"type": "message_stop"})
PING: Event = ("ping", {"type": "ping"})


def error_event(kind: str = "overloaded_error", message: str = "Overloaded") -> Event:
    return ("error", {"type": "error", "error": {"type": kind, "message": message}})


def text_stream(
    pieces: list[str], *, stop_reason: str = "end_turn", model: str = "claude-sonnet-4-5"
) -> list[Event]:
    """A plain text answer as Anthropic streams it, with a ping in the middle."""
    return [
        message_start(model),
        *text_block(0, pieces)[:1],
        PING,
        *text_block(0, pieces)[1:],
        message_delta(stop_reason, 15),
        MESSAGE_STOP,
    ]


def sse_body(events: list[Event]) -> bytes:
    return "".join(
        f"event: {name}\ndata: {jsonlib.dumps(payload)}\n\n" for name, payload in events
    ).encode()


def split(raw: bytes, sizes: tuple[int, ...] = (1, 3, 7, 2, 5, 4, 6)) -> list[bytes]:
    """Cut a body into pieces of 1-7 bytes, cycling through awkward sizes."""
    pieces, at, i = [], 0, 0
    while at < len(raw):
        n = sizes[i % len(sizes)]
        pieces.append(raw[at : at + n])
        at, i = at + n, i + 1
    return pieces


def stream(events: list[Event], **kwargs: Any) -> Action:
    """The events as one SSE body delivered in 1-7 byte writes."""
    return stream_bytes(split(sse_body(events)), **kwargs)


def message(
    content: list[dict[str, Any]],
    *,
    stop_reason: str = "end_turn",
    model: str = "claude-sonnet-4-5",
    usage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": "msg_full",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage
        or {
            "input_tokens": 20,
            "output_tokens": 7,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


def reply(text: str = "Hello!", **kwargs: Any) -> Action:
    return json(200, message([{"type": "text", "text": text}], **kwargs))


def error(
    status: int, kind: str, message: str = "boom", headers: dict[str, str] | None = None
) -> Action:
    return json(
        status,
        {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_011C"},
        headers=headers,
    )
