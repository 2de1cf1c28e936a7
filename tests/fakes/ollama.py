"""A fake Ollama server speaking the native API (Ollama's docs/api.md).

``smart_chat()`` answers ``POST /api/chat`` from the request itself (see brain.py), as NDJSON
lines cut at awkward byte offsets when ``stream`` is true (Ollama's default) or as one JSON
object when it is false. The other helpers script raw lines for edge cases.
"""

from __future__ import annotations

import base64
import json as jsonlib
from typing import Any

from aiohttp import web

from .brain import Answer, Image, Tool, Turn, View, cut, pieces, think
from .server import Action, json, stream_bytes

CHAT = "/api/chat"
TAGS = "/api/tags"
MODEL = "llama3.2"
CREATED = "2026-01-01T10:00:00.123456789Z"


def _sniff(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    return "unknown"


def view_of(body: dict[str, Any]) -> View:
    view = View()
    for message in body.get("messages", []):
        role, text = message["role"], message.get("content", "")
        if role == "system":
            view.system = text
            continue
        images = [
            Image(_sniff(raw), len(raw))
            for raw in (base64.b64decode(b, validate=True) for b in message.get("images", []))
        ]
        view.turns.append(Turn(role, text, images))
    for tool in body.get("tools") or ():
        fn = tool["function"]
        view.tools.append(Tool(fn["name"], fn.get("parameters") or {}))
    fmt = body.get("format")
    if isinstance(fmt, dict):
        view.schema = fmt
    elif fmt == "json":
        view.json_mode = True
    view.stop = list((body.get("options") or {}).get("stop") or ())
    return view


def line(
    content: str = "",
    *,
    done: bool = False,
    thinking: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    done_reason: str = "stop",
    prompt_eval_count: int | None = 26,
    eval_count: int | None = 282,
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if thinking is not None:
        message["thinking"] = thinking
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    out: dict[str, Any] = {"model": MODEL, "created_at": CREATED, "message": message, "done": done}
    if done:
        out["done_reason"] = done_reason
        out.update(total_duration=4883583458, load_duration=1334875, eval_duration=4535599000)
        if prompt_eval_count is not None:
            out["prompt_eval_count"] = prompt_eval_count
        if eval_count is not None:
            out["eval_count"] = eval_count
    return out


def lines_for(answer: Answer) -> list[dict[str, Any]]:
    """The NDJSON objects Ollama streams for an answer: text pieces, whole tool calls, done."""
    out = [line(p) for p in pieces(answer.text)]
    if answer.calls:
        # Ollama sends tool calls whole, without ids, arguments as objects.
        calls = [{"function": {"name": c.name, "arguments": c.arguments}} for c in answer.calls]
        out.append(line(tool_calls=calls))
    out.append(
        line(
            done=True,
            done_reason="length" if answer.finish == "length" else "stop",
            prompt_eval_count=answer.prompt_tokens,
            eval_count=answer.completion_tokens,
        )
    )
    return out


def ndjson(objects: list[Any], size: int = 7, **kwargs: Any) -> Action:
    """Objects as NDJSON, the whole body cut into ``size``-byte writes."""
    raw = "".join(jsonlib.dumps(o) + "\n" for o in objects).encode()
    return stream_bytes(cut(raw, size), content_type="application/x-ndjson", **kwargs)


def smart_chat(size: int = 7) -> Action:
    """Answer every ``/api/chat`` request from what it asks (brain.py)."""

    async def act(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        answer = think(view_of(body))
        objects = lines_for(answer)
        if body.get("stream", True):
            return await ndjson(objects, size)(request)
        final = dict(objects[-1])
        message = final["message"] = {"role": "assistant", "content": answer.text}
        for o in objects:
            if o["message"].get("tool_calls"):
                message["tool_calls"] = o["message"]["tool_calls"]
        return web.json_response(final)

    return act


def error(status: int, message: str) -> Action:
    """Ollama's error body: the message is a plain string."""
    return json(status, {"error": message})


def tags(*names: str) -> Action:
    return json(
        200,
        {
            "models": [
                {
                    "name": n,
                    "model": n,
                    "modified_at": "2025-05-04T17:37:44.706015396-07:00",
                    "size": 2019393189,
                    "digest": "a80c4f17",
                    "details": {"format": "gguf", "family": "llama"},
                }
                for n in names
            ]
        },
    )
