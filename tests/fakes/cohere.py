"""A smart Cohere v2 Chat fake for the conformance matrix: reads ``POST /v2/chat`` into the
brain's ``View`` and writes its ``Answer`` back as Cohere does (a whole chat response, or the
typed stream events as SSE cut at awkward byte offsets)."""

from __future__ import annotations

import json as jsonlib
from typing import Any

from aiohttp import web

from .brain import Answer, Tool, Turn, View, cut, pieces, think
from .server import Action, stream_bytes

CHAT = "/v2/chat"


def cohere_view(body: dict[str, Any]) -> View:
    view = View(stop=list(body.get("stop_sequences") or ()))
    for message in body["messages"]:
        role, content = message["role"], message.get("content") or ""
        text = (
            content
            if isinstance(content, str)
            else "".join(p.get("text", "") for p in content if p.get("type") == "text")
        )
        if role == "system":
            view.system += text
        else:
            view.turns.append(Turn(role, text))
    for tool in body.get("tools") or ():
        view.tools.append(Tool(tool["function"]["name"], tool["function"].get("parameters") or {}))
    fmt = body.get("response_format") or {}
    if fmt.get("json_schema") is not None:
        view.schema = fmt["json_schema"]
    elif fmt.get("type") == "json_object":
        view.json_mode = True
    return view


def _usage(answer: Answer) -> dict[str, Any]:
    counts = {"input_tokens": answer.prompt_tokens, "output_tokens": answer.completion_tokens}
    return {"billed_units": counts, "tokens": counts}


def _events(answer: Answer, reason: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = [
        {"type": "message-start", "id": "co-1", "delta": {"message": {"role": "assistant"}}}
    ]
    if answer.text:
        start = {"message": {"content": {"type": "text", "text": ""}}}
        events.append({"type": "content-start", "index": 0, "delta": start})
        for piece in pieces(answer.text):
            delta = {"message": {"content": {"text": piece}}}
            events.append({"type": "content-delta", "index": 0, "delta": delta})
        events.append({"type": "content-end", "index": 0})
    for i, call in enumerate(answer.calls):
        args = jsonlib.dumps(call.arguments)
        head: dict[str, Any] = {"id": f"co_call_{i}", "type": "function",
                "function": {"name": call.name, "arguments": ""}}  # fmt: skip
        events.append({"type": "tool-call-start", "index": i,
                       "delta": {"message": {"tool_calls": head}}})  # fmt: skip
        for piece in (args[:4], args[4:]):
            more: dict[str, Any] = {"message": {"tool_calls": {"function": {"arguments": piece}}}}
            events.append({"type": "tool-call-delta", "index": i, "delta": more})
        events.append({"type": "tool-call-end", "index": i})
    end = {"finish_reason": reason, "usage": _usage(answer)}
    events.append({"type": "message-end", "delta": end})
    return events


def smart_chat() -> Action:
    async def act(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        view = cohere_view(body)
        full = think(View(view.system, view.turns, view.tools, view.schema, view.json_mode))
        answer = think(view)
        reason = "TOOL_CALL" if answer.calls else "COMPLETE"
        if answer.text != full.text:
            reason = "STOP_SEQUENCE"
        if body.get("stream"):
            raw = b"".join(
                f"event: {e['type']}\ndata: {jsonlib.dumps(e)}\n\n".encode()
                for e in _events(answer, reason)
            )
            return await stream_bytes(cut(raw, 7))(request)
        message: dict[str, Any] = {"role": "assistant"}
        if answer.text:
            message["content"] = [{"type": "text", "text": answer.text}]
        if answer.calls:
            message["tool_calls"] = [
                {"id": f"co_call_{i}", "type": "function",
                 "function": {"name": c.name, "arguments": jsonlib.dumps(c.arguments)}}
                for i, c in enumerate(answer.calls)
            ]  # fmt: skip
        payload = {"id": "co-1", "finish_reason": reason, "message": message,
                   "usage": _usage(answer)}  # fmt: skip
        return web.json_response(payload)

    return act
