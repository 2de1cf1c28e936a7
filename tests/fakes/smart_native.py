"""Smart Anthropic and Gemini fakes for the conformance matrix: each reads its wire format
into the brain's ``View`` and writes the brain's ``Answer`` back in that format (streamed as
SSE cut at awkward byte offsets, or whole). Built on the scripted helpers of
tests/fakes/anthropic.py and tests/fakes/gemini.py.
"""

from __future__ import annotations

import base64
import json as jsonlib
from typing import Any

import aiohttp
from aiohttp import web

from . import anthropic as fa
from . import gemini as fg
from .brain import Answer, Image, Tool, Turn, View, pieces, think
from .server import Action, stream_bytes


def _sniff(raw: bytes) -> str:
    if raw.startswith(b"\x89PNG"):
        return "image/png"
    return "image/jpeg" if raw.startswith(b"\xff\xd8\xff") else "unknown"


async def _download(url: str) -> Image:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        raw = await resp.read()
    return Image(_sniff(raw), len(raw), url=url)


# -- Anthropic -------------------------------------------------------------------------------
async def anthropic_view(body: dict[str, Any]) -> View:
    system = body.get("system") or ""
    view = View(
        system=system if isinstance(system, str) else "".join(b["text"] for b in system),
        stop=list(body.get("stop_sequences") or ()),
    )
    for message in body["messages"]:
        content = message["content"]
        if isinstance(content, str):
            view.turns.append(Turn(message["role"], content))
            continue
        texts, images, results = [], [], []
        for block in content:
            kind = block["type"]
            if kind == "text":
                texts.append(block["text"])
            elif kind == "image":
                source = block["source"]
                if source["type"] == "base64":
                    raw = base64.b64decode(source["data"])
                    images.append(Image(_sniff(raw), len(raw)))
                else:
                    images.append(await _download(source["url"]))
            elif kind == "tool_result":
                result = block.get("content")
                if isinstance(result, list):
                    result = "".join(b.get("text", "") for b in result)
                results.append(str(result or ""))
        if results:
            view.turns.append(Turn("tool", "\n".join(results)))
        else:
            view.turns.append(Turn(message["role"], "\n".join(texts), images))
    for tool in body.get("tools") or ():
        view.tools.append(Tool(tool["name"], tool.get("input_schema") or {}))
    return view


def anthropic_events(answer: Answer, stop_hit: bool) -> list[Any]:
    events: list[Any] = [fa.message_start(input_tokens=answer.prompt_tokens)]
    index = 0
    if answer.text:
        events += fa.text_block(0, pieces(answer.text))
        index = 1
    for i, call in enumerate(answer.calls):
        args = jsonlib.dumps(call.arguments)
        events += fa.tool_block(index + i, f"toolu_{i}", call.name, [args[:5], args[5:]])
    reason = "tool_use" if answer.calls else ("stop_sequence" if stop_hit else "end_turn")
    events += [fa.PING, fa.message_delta(reason, answer.completion_tokens), fa.MESSAGE_STOP]
    return events


def anthropic_smart() -> Action:
    async def act(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        view = await anthropic_view(body)
        full = think(View(view.system, view.turns, view.tools, view.schema, view.json_mode))
        answer = think(view)
        stop_hit = answer.text != full.text
        events = anthropic_events(answer, stop_hit)
        if body.get("stream"):
            return await stream_bytes(fa.split(fa.sse_body(events)))(request)
        content: list[dict[str, Any]] = []
        if answer.text:
            content.append({"type": "text", "text": answer.text})
        content += [
            {"type": "tool_use", "id": f"toolu_{i}", "name": c.name, "input": c.arguments}
            for i, c in enumerate(answer.calls)
        ]
        reason = events[-2][1]["delta"]["stop_reason"]
        usage = {"input_tokens": answer.prompt_tokens, "output_tokens": answer.completion_tokens}
        return web.json_response(fa.message(content, stop_reason=reason, usage=usage))

    return act


# -- Gemini ----------------------------------------------------------------------------------
async def gemini_view(body: dict[str, Any]) -> View:
    view = View()
    system = body.get("systemInstruction") or {}
    view.system = "".join(p.get("text", "") for p in system.get("parts", ()))
    for content in body.get("contents", ()):
        texts, images, results = [], [], []
        for part in content.get("parts", ()):
            if "text" in part:
                texts.append(part["text"])
            elif "inlineData" in part:
                raw = base64.b64decode(part["inlineData"]["data"])
                images.append(Image(_sniff(raw), len(raw)))
            elif "fileData" in part:
                images.append(await _download(part["fileData"]["fileUri"]))
            elif "functionResponse" in part:
                response = part["functionResponse"]["response"]
                results.append(str(response.get("result", jsonlib.dumps(response))))
        role = "assistant" if content.get("role") == "model" else "user"
        if results:
            view.turns.append(Turn("tool", "\n".join(results)))
        else:
            view.turns.append(Turn(role, "\n".join(texts), images))
    for tool in body.get("tools") or ():
        for fn in tool.get("functionDeclarations") or ():
            schema = fn.get("parametersJsonSchema") or fn.get("parameters") or {}
            view.tools.append(Tool(fn["name"], schema))
    config = body.get("generationConfig") or {}
    schema = config.get("responseJsonSchema") or config.get("responseSchema")
    if schema is not None:
        view.schema = schema
    elif config.get("responseMimeType") == "application/json":
        view.json_mode = True
    view.stop = list(config.get("stopSequences") or ())
    return view


def gemini_smart() -> Action:
    async def act(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        answer = think(await gemini_view(body))
        usage = fg.usage(answer.prompt_tokens, answer.completion_tokens)
        calls = [{"functionCall": {"name": c.name, "args": c.arguments}} for c in answer.calls]
        if request.path.endswith(":streamGenerateContent"):
            payloads = [fg.response([{"text": p}], None) for p in pieces(answer.text)]
            if calls:
                payloads.append(fg.response(calls, None))
            payloads.append(fg.response([{"text": ""}], "STOP", usage_meta=usage))
            return await stream_bytes(fa.split(fg.sse_body(payloads)))(request)
        parts = ([{"text": answer.text}] if answer.text else []) + calls
        return web.json_response(fg.response(parts, "STOP", usage_meta=usage))

    return act
