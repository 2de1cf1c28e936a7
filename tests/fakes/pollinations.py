"""A fake Pollinations: OpenAI-dialect chat answered from the request, and an image endpoint.

``smart_chat()`` speaks OpenAI's Chat Completions wire format (Pollinations' text endpoint is
OpenAI-compatible), answering from the request itself (brain.py); the conformance matrix uses
it for the OpenAI-compatible row too. Like a real upstream, it downloads ``http(s)`` image
URLs it is given. Streams are SSE bodies cut at awkward byte offsets.

``image()`` answers ``GET .../{prompt}`` with PNG bytes that carry, after the PNG signature,
the JSON of what was asked (prompt and query), so tests read back the exact request.
"""

from __future__ import annotations

import base64
import json as jsonlib
from typing import Any

import aiohttp
from aiohttp import web

from .brain import Answer, Image, Tool, Turn, View, cut, pieces, think
from .server import Action, json, stream_bytes

LEGACY_CHAT = "/openai"  # text.pollinations.ai/openai
LEGACY_TEXT_MODELS = "/models"
GEN_CHAT = "/v1/chat/completions"
GEN_MODELS = "/v1/models"
GEN_IMAGE_MODELS = "/image/models"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _sniff(data: bytes) -> str:
    if data.startswith(PNG_SIGNATURE):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    return "unknown"


async def _image(url: str) -> Image:
    if url.startswith("data:"):
        raw = base64.b64decode(url.partition(",")[2])
        return Image(_sniff(raw), len(raw))
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        raw = await resp.read()
    return Image(_sniff(raw), len(raw), url=url)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(p["text"] for p in content or () if p.get("type") == "text")


async def view_of(body: dict[str, Any]) -> View:
    """An OpenAI Chat Completions body -> the brain's view (downloading image URLs)."""
    view = View()
    for message in body["messages"]:
        role, content = message["role"], message.get("content")
        if role in ("system", "developer"):
            view.system = _text(content)
            continue
        images = []
        if isinstance(content, list):
            images = [
                await _image(p["image_url"]["url"]) for p in content if p["type"] == "image_url"
            ]
        view.turns.append(Turn(role, _text(content), images))
    for tool in body.get("tools") or ():
        view.tools.append(Tool(tool["function"]["name"], tool["function"].get("parameters") or {}))
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        view.schema = fmt["json_schema"]["schema"]
    elif fmt.get("type") == "json_object":
        view.json_mode = True
    stop = body.get("stop")
    view.stop = [stop] if isinstance(stop, str) else list(stop or ())
    return view


def _usage(answer: Answer) -> dict[str, int]:
    return {
        "prompt_tokens": answer.prompt_tokens,
        "completion_tokens": answer.completion_tokens,
        "total_tokens": answer.prompt_tokens + answer.completion_tokens,
    }


def _chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 1767225600,
        "model": "fake-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
        if delta or finish
        else [],
        **extra,
    }


def sse_body(answer: Answer, include_usage: bool) -> bytes:
    chunks = [_chunk({"role": "assistant", "content": ""})]
    chunks += [_chunk({"content": p}) for p in pieces(answer.text)]
    for i, call in enumerate(answer.calls):
        args = jsonlib.dumps(call.arguments)
        half = len(args) // 2  # arguments arrive in pieces, as OpenAI streams them
        chunks.append(
            _chunk(
                {
                    "tool_calls": [
                        {
                            "index": i,
                            "id": call.id,
                            "type": "function",
                            "function": {"name": call.name, "arguments": args[:half]},
                        }
                    ]
                }
            )
        )
        chunks.append(
            _chunk({"tool_calls": [{"index": i, "function": {"arguments": args[half:]}}]})
        )
    chunks.append(_chunk({}, answer.finish))
    if include_usage:
        chunks.append(_chunk({}, usage=_usage(answer)))
    body = "".join(f"data: {jsonlib.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    return body.encode()


def completion(answer: Answer) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": answer.text or None}
    if answer.calls:
        message["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": jsonlib.dumps(c.arguments)},
            }
            for c in answer.calls
        ]
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1767225600,
        "model": "fake-model",
        "choices": [{"index": 0, "message": message, "finish_reason": answer.finish}],
        "usage": _usage(answer),
    }


def smart_chat(size: int = 11) -> Action:
    """Answer OpenAI-dialect chat requests from what they ask (brain.py)."""

    async def act(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        answer = think(await view_of(body))
        if body.get("stream"):
            include = bool((body.get("stream_options") or {}).get("include_usage"))
            raw = sse_body(answer, include)
            return await stream_bytes(cut(raw, size))(request)
        return web.json_response(completion(answer))

    return act


def image(status: int = 200, content_type: str = "image/png", **headers: str) -> Action:
    """PNG bytes echoing the request: signature + JSON {"prompt", "query", "auth"}."""

    async def act(request: web.Request) -> web.StreamResponse:
        prompt = request.match_info["tail"].split("/", 1)[1]  # path after /prompt/ or /image/
        echo = {
            "prompt": prompt,
            "raw_path": request.raw_path.split("?", 1)[0],
            "query": dict(request.query),
            "auth": request.headers.get("Authorization"),
        }
        payload = PNG_SIGNATURE + jsonlib.dumps(echo).encode()
        return web.Response(
            status=status, body=payload, content_type=content_type, headers=headers or None
        )

    return act


def read_echo(png: bytes) -> dict[str, Any]:
    """What ``image()`` was asked, from the bytes it answered."""
    assert png.startswith(PNG_SIGNATURE)
    result: dict[str, Any] = jsonlib.loads(png[len(PNG_SIGNATURE) :])
    return result


def models(payload: Any) -> Action:
    return json(200, payload)
