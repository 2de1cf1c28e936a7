"""Bodies in the Gemini API's wire format (generateContent, its stream, errors), for fakes."""

from __future__ import annotations

import json as jsonlib
from typing import Any

from .anthropic import split
from .server import Action, json, stream_bytes

MODEL = "gemini-2.5-flash"


def generate_path(model: str = MODEL) -> str:
    return f"/v1beta/models/{model}:generateContent"


def stream_path(model: str = MODEL) -> str:
    return f"/v1beta/models/{model}:streamGenerateContent"


MODELS = "/v1beta/models"


def usage(prompt: int = 25, candidates: int = 12, thoughts: int | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": candidates,
        "totalTokenCount": prompt + candidates + (thoughts or 0),
    }
    if thoughts is not None:
        meta["thoughtsTokenCount"] = thoughts
    return meta


def response(
    parts: list[dict[str, Any]] | None,
    finish: str | None = "STOP",
    *,
    usage_meta: dict[str, Any] | None = None,
    index: int | None = 0,
) -> dict[str, Any]:
    candidate: dict[str, Any] = {}
    if parts is not None:
        candidate["content"] = {"role": "model", "parts": parts}
    if finish:
        candidate["finishReason"] = finish
    if index is not None:
        candidate["index"] = index
    body: dict[str, Any] = {
        "candidates": [candidate],
        "modelVersion": MODEL,
        "responseId": "resp-abc123",
    }
    if usage_meta is not None:
        body["usageMetadata"] = usage_meta
    return body


def text_pieces(pieces: list[str], finish: str = "STOP") -> list[dict[str, Any]]:
    """A streamed text answer: one response per piece, running usage, finish on the last."""
    out = []
    for i, piece in enumerate(pieces):
        last = i == len(pieces) - 1
        out.append(
            response(
                [{"text": piece}],
                finish if last else None,
                usage_meta=usage(25, i + 1),
            )
        )
    return out


def sse_body(payloads: list[Any]) -> bytes:
    """``data: <json>`` events separated by CRLF blank lines; no [DONE]: EOF ends the stream."""
    return "".join(f"data: {jsonlib.dumps(p)}\r\n\r\n" for p in payloads).encode()


def stream(payloads: list[Any], **kwargs: Any) -> Action:
    """The stream as one body cut into 1-7 byte writes."""
    return stream_bytes(split(sse_body(payloads)), **kwargs)


def reply(text: str = "Hello!", **kwargs: Any) -> Action:
    return json(200, response([{"text": text}], usage_meta=usage(), **kwargs))


def error(
    status: int,
    message: str,
    google_status: str,
    *,
    wrapped: bool = False,
    headers: dict[str, str] | None = None,
) -> Action:
    body: Any = {"error": {"code": status, "message": message, "status": google_status}}
    return json(status, [body] if wrapped else body, headers=headers)
