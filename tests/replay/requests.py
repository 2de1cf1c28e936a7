"""A recorded request body (in its provider's own dialect) -> the equivalent OpenAI-shaped call
of polymux; and the check that what polymux then sent carries the recorded request's
essential fields (model, turns with their texts, images, tool calls and results, system text,
tool names, output limits, streaming).

What OpenAI-shaped input cannot express raises ``NotApplicable`` with the reason; provider
fields polymux has no parameter for go through ``extra_body``, as a user would send them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from .server import Interaction


class NotApplicable(Exception):
    """This interaction cannot be replayed through polymux; the message says why."""


#: Request fields each dialect maps to a polymux parameter (the rest go in extra_body).
_OPENAI_PARAMS = frozenset(
    {
        "temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "n", "seed",
        "presence_penalty", "frequency_penalty", "response_format", "tools", "tool_choice",
        "parallel_tool_calls", "user", "reasoning_effort",
    }
)  # fmt: skip


def _clean(value: Any) -> Any:
    """The value without null fields (recorded SDKs write ``"name": null`` and the like)."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


# -- OpenAI dialect ------------------------------------------------------------------------------
def openai_call(body: Mapping[str, Any]) -> dict[str, Any]:
    messages = [_clean(m) for m in body["messages"]]
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            for part in content:
                if part.get("type") not in ("text", "image_url"):
                    raise NotApplicable(
                        f"a message holds a {part.get('type')!r} part: polymux sends only text "
                        "and image parts in OpenAI-shaped messages"
                    )
    call: dict[str, Any] = {"model": body["model"], "messages": messages}
    extra: dict[str, Any] = {}
    native_tools = any(t.get("type", "function") != "function" for t in body.get("tools") or ())
    for key, value in body.items():
        if key in ("model", "messages", "stream", "stream_options") or value is None:
            continue
        if key == "tools" and not value:
            continue
        if key == "tool_choice" and value == "any":  # Mistral's word for "required"
            value = "required"
        if key in ("tools", "tool_choice") and native_tools:
            extra[key] = value  # a host's own tools (web search ...), sent as the host defines them
        elif key in _OPENAI_PARAMS:
            call[key] = value
        else:
            extra[key] = value
    if extra:
        call["extra_body"] = extra
    return call


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(p.get("text") or "")
            for p in content
            if isinstance(p, dict) and p.get("type") in ("text", None)
        )
    return ""


def _openai_turns(messages: list[Any], *, system_roles: bool) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for m in messages:
        role = m.get("role")
        if system_roles and role == "developer":
            role = "system"
        calls = tuple(
            (
                (c.get("function") or {}).get("name"),
                json.loads((c.get("function") or {}).get("arguments") or "{}"),
            )
            for c in m.get("tool_calls") or ()
        )
        images = tuple(
            p["image_url"]["url"][:64]
            for p in (m.get("content") if isinstance(m.get("content"), list) else ())
            if isinstance(p, dict) and p.get("type") == "image_url"
        )
        out.append((role, _text(m.get("content")), images, calls, bool(m.get("tool_call_id"))))
    return out


def check_openai(recorded: Mapping[str, Any], sent: Mapping[str, Any]) -> None:
    assert sent["model"] == recorded["model"], (sent["model"], recorded["model"])
    assert bool(sent.get("stream")) == bool(recorded.get("stream")), (
        bool(sent.get("stream")),
        bool(recorded.get("stream")),
    )
    system_roles = not any(m.get("role") == "developer" for m in sent["messages"])
    got = _openai_turns(sent["messages"], system_roles=system_roles)
    want = _openai_turns(recorded["messages"], system_roles=system_roles)
    assert got == want, (got, want)
    assert _tool_names(sent.get("tools")) == _tool_names(recorded.get("tools")), (
        _tool_names(sent.get("tools")),
        _tool_names(recorded.get("tools")),
    )
    limit = recorded.get("max_completion_tokens") or recorded.get("max_tokens")
    if limit:
        assert limit in (sent.get("max_completion_tokens"), sent.get("max_tokens"))
    for key in ("temperature", "top_p", "stop", "tool_choice", "response_format"):
        if recorded.get(key) is not None:
            expected = "required" if recorded[key] == "any" else recorded[key]
            assert sent.get(key) == expected, (key, sent.get(key), expected)
    assert sent.get("n", 1) == recorded.get("n", 1)


def _tool_names(tools: Any) -> list[Any]:
    return [(t.get("function") or t).get("name") or t.get("type") for t in tools or ()]


# -- Anthropic Messages dialect ------------------------------------------------------------------
_ANTHROPIC_HISTORY = frozenset({"text", "image", "tool_use", "tool_result", "thinking"})


def _image_url(source: Mapping[str, Any]) -> str:
    if source.get("type") == "url":
        return str(source["url"])
    if source.get("type") == "base64":
        return f"data:{source['media_type']};base64,{source['data']}"
    raise NotApplicable(f"an image of source type {source.get('type')!r}")


def _text_parts(blocks: list[Any]) -> str | list[dict[str, Any]]:
    """Text blocks (or parts) as OpenAI content: one string, or text parts when several."""
    texts = [b["text"] for b in blocks if "text" in b and b.get("type", "text") == "text"]
    if len(texts) == 1:
        return str(texts[0])
    return [{"type": "text", "text": t} for t in texts] if texts else ""


def _anthropic_parts(blocks: list[Any]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for block in blocks:
        if block["type"] == "text":
            parts.append({"type": "text", "text": block["text"]})
        elif block["type"] == "image":
            parts.append({"type": "image_url", "image_url": {"url": _image_url(block["source"])}})
    return parts


def anthropic_call(body: Mapping[str, Any]) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    system = body.get("system")
    if system:
        messages.append({"role": "system", "content": _text(system)})
    for m in body["messages"]:
        content = m["content"]
        if isinstance(content, str):
            messages.append({"role": m["role"], "content": content})
            continue
        kinds = {b["type"] for b in content}
        if kinds - _ANTHROPIC_HISTORY:
            raise NotApplicable(
                f"the history holds Anthropic {sorted(kinds - _ANTHROPIC_HISTORY)} blocks, "
                "which OpenAI-shaped messages cannot carry"
            )
        if m["role"] == "system":
            raise NotApplicable(
                "a system message in the middle of the conversation: polymux sends every system "
                "message as Anthropic's top-level system prompt"
            )
        if m["role"] == "assistant":
            message: dict[str, Any] = {"role": "assistant", "content": _text_parts(content)}
            calls = [
                {
                    "id": b["id"],
                    "type": "function",
                    "function": {"name": b["name"], "arguments": json.dumps(b["input"])},
                }
                for b in content
                if b["type"] == "tool_use"
            ]
            if calls:
                message["tool_calls"] = calls
            messages.append(message)
            continue
        for block in content:  # tool results first, as OpenAI orders them
            if block["type"] == "tool_result":
                result = block.get("content", "")
                if isinstance(result, list):
                    if {b["type"] for b in result} - {"text", "image"}:
                        raise NotApplicable("a tool result holds non-text, non-image blocks")
                    result = _anthropic_parts(result)
                messages.append(
                    {"role": "tool", "tool_call_id": block["tool_use_id"], "content": result}
                )
        parts = _anthropic_parts([b for b in content if b["type"] != "tool_result"])
        if parts:
            messages.append({"role": "user", "content": parts})
    call: dict[str, Any] = {
        "model": body["model"],
        "messages": messages,
        "max_tokens": body["max_tokens"],
    }
    extra: dict[str, Any] = {}
    tools = body.get("tools") or []
    if any(t.get("type", "custom") != "custom" for t in tools):
        extra["tools"] = tools  # server tools: sent as Anthropic defines them
    elif tools:
        call["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t["name"],
                    "description": t.get("description") or "",
                    "parameters": t["input_schema"],
                },
            }
            for t in tools
        ]
    choice = body.get("tool_choice")
    if choice and "tools" in extra:
        extra["tool_choice"] = choice
    elif choice:
        kind = choice["type"]
        call["tool_choice"] = (
            {"type": "function", "function": {"name": choice["name"]}}
            if kind == "tool"
            else {"any": "required"}.get(kind, kind)
        )
        if choice.get("disable_parallel_tool_use"):
            call["parallel_tool_calls"] = False
    for key, value in body.items():
        if key in ("model", "messages", "max_tokens", "system", "tools", "tool_choice", "stream"):
            continue
        if key == "temperature":
            call["temperature"] = value
        elif key == "stop_sequences":
            call["stop"] = value
        elif key == "metadata" and set(value) == {"user_id"}:
            call["user"] = value["user_id"]
        else:
            extra[key] = value
    if extra:
        call["extra_body"] = extra
    return call


def _anthropic_turns(messages: list[Any]) -> list[tuple[str, list[Any]]]:
    turns: list[tuple[str, list[Any]]] = []
    for m in messages:
        content = m["content"]
        blocks: list[Any] = (
            [{"type": "text", "text": content}] if isinstance(content, str) else content
        )
        summary: list[Any] = []
        for b in blocks:
            kind = b["type"]
            if kind == "text" and b["text"].strip():
                summary.append(("text", b["text"].rstrip()))
            elif kind == "image":
                summary.append(("image", b["source"].get("type")))
            elif kind == "tool_use":
                summary.append(("tool_use", b["id"], b["name"], b["input"]))
            elif kind == "tool_result":
                result = b.get("content", "")
                summary.append(("tool_result", b["tool_use_id"], _text(result).rstrip()))
        summary.sort(key=lambda s: s[0] != "tool_result")  # results lead a user turn
        if turns and turns[-1][0] == m["role"]:
            turns[-1][1].extend(summary)
        elif summary:
            turns.append((m["role"], summary))
    return turns


def check_anthropic(recorded: Mapping[str, Any], sent: Mapping[str, Any]) -> None:
    assert sent["model"] == recorded["model"], (sent["model"], recorded["model"])
    assert sent["max_tokens"] == recorded["max_tokens"], (
        sent["max_tokens"],
        recorded["max_tokens"],
    )
    assert bool(sent.get("stream")) == bool(recorded.get("stream")), (
        bool(sent.get("stream")),
        bool(recorded.get("stream")),
    )
    assert _text(sent.get("system") or "") == _text(recorded.get("system") or ""), (
        _text(sent.get("system") or ""),
        _text(recorded.get("system") or ""),
    )
    assert _anthropic_turns(sent["messages"]) == _anthropic_turns(recorded["messages"]), (
        _anthropic_turns(sent["messages"]),
        _anthropic_turns(recorded["messages"]),
    )
    assert [t.get("name") for t in sent.get("tools") or ()] == [
        t.get("name") for t in recorded.get("tools") or ()
    ]
    for key in ("temperature", "stop_sequences", "tool_choice"):
        if recorded.get(key) is not None:
            assert sent.get(key) == recorded[key], key


# -- Gemini generateContent dialect --------------------------------------------------------------
def _camel(part: Mapping[str, Any]) -> dict[str, Any]:
    """llm-gemini wrote some fields in snake case (the API accepts both)."""
    names = {"function_call": "functionCall", "function_response": "functionResponse"}
    names["function_declarations"] = "functionDeclarations"
    return {names.get(k, k): v for k, v in part.items()}


_GEMINI_HISTORY = frozenset(
    {"text", "inlineData", "functionCall", "functionResponse", "thought", "thoughtSignature"}
)


def _gemini_tools(body: Mapping[str, Any]) -> list[Any]:
    tools = body.get("tools") or []
    return [tools] if isinstance(tools, dict) else list(tools)  # llm-gemini sent one object


def gemini_call(body: Mapping[str, Any], model: str) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    system = body.get("systemInstruction") or body.get("system_instruction")
    if system:
        messages.append(
            {"role": "system", "content": "".join(p.get("text", "") for p in system["parts"])}
        )
    pending: list[tuple[str, str]] = []  # (call id, name) not yet answered
    count = 0
    for content in body["contents"]:
        role = content.get("role", "user")
        parts = [_camel(p) for p in content["parts"]]
        for p in parts:
            if set(p) - _GEMINI_HISTORY:
                raise NotApplicable(
                    f"the history holds Gemini {sorted(set(p) - _GEMINI_HISTORY)} parts, which "
                    "OpenAI-shaped messages cannot carry"
                )
            inline = p.get("inlineData")
            if inline and not str(inline.get("mimeType", "")).startswith("image/"):
                raise NotApplicable(
                    f"inline {inline.get('mimeType')} data: polymux sends only images"
                )
        if role == "model":
            texts = [p for p in parts if "text" in p and not p.get("thought")]
            message: dict[str, Any] = {"role": "assistant", "content": _text_parts(texts)}
            calls = []
            for p in parts:
                if "functionCall" in p:
                    function_call = p["functionCall"]
                    count += 1
                    call_id = function_call.get("id") or f"call_{count}"
                    pending.append((call_id, function_call["name"]))
                    calls.append(
                        {
                            "id": call_id,
                            "type": "function",
                            "function": {
                                "name": function_call["name"],
                                "arguments": json.dumps(function_call.get("args") or {}),
                            },
                        }
                    )
            if calls:
                message["tool_calls"] = calls
            messages.append(message)
            continue
        user_parts: list[dict[str, Any]] = []
        for p in parts:
            if "functionResponse" in p:
                response = p["functionResponse"]
                match = next((c for c in pending if c[1] == response["name"]), None)
                if match is None:
                    raise NotApplicable("a function response answers no earlier call")
                pending.remove(match)
                messages.append(
                    {
                        "role": "tool",
                        "tool_call_id": match[0],
                        "content": json.dumps(response.get("response") or {}),
                    }
                )
            elif "text" in p:
                user_parts.append({"type": "text", "text": p["text"]})
            elif "inlineData" in p:
                data = p["inlineData"]
                # The API takes base64 in either alphabet; a data URL holds the standard one.
                b64 = data["data"].replace("-", "+").replace("_", "/")
                url = f"data:{data['mimeType']};base64,{b64}"
                user_parts.append({"type": "image_url", "image_url": {"url": url}})
        if user_parts or not any("functionResponse" in p for p in parts):
            messages.append({"role": "user", "content": user_parts or ""})
    call: dict[str, Any] = {"model": model, "messages": messages}
    extra: dict[str, Any] = {}
    tools: list[dict[str, Any]] = []
    for tool in _gemini_tools(body):
        tool = _camel(tool)
        declarations = tool.get("functionDeclarations") or tool.get("function_declarations")
        if declarations is None:
            extra.setdefault("tools", []).append(tool)  # Google's built-in tools
            continue
        for d in declarations:
            schema = d.get("parametersJsonSchema") or d.get("parameters") or {"type": "object"}
            fn = {"name": d["name"], "description": d.get("description", ""), "parameters": schema}
            tools.append({"type": "function", "function": fn})
    if tools and "tools" in extra:
        # Function declarations beside Google's built-in tools: sent as Gemini defines them,
        # the way a user would (extra_body), since OpenAI-shaped tools are functions only.
        extra["tools"] = _gemini_tools(body)
        tools = []
    if tools:
        call["tools"] = tools
    mode = ((body.get("toolConfig") or {}).get("functionCallingConfig") or {}).get("mode")
    if mode and tools:
        allowed = body["toolConfig"]["functionCallingConfig"].get("allowedFunctionNames")
        if mode == "ANY" and allowed and len(allowed) == 1:
            call["tool_choice"] = {"type": "function", "function": {"name": allowed[0]}}
        elif mode in ("ANY", "AUTO", "NONE") and not allowed:
            call["tool_choice"] = {"ANY": "required", "AUTO": "auto", "NONE": "none"}[mode]
        else:  # several allowed functions, VALIDATED mode: Gemini's own toolConfig
            extra["toolConfig"] = body["toolConfig"]
    config = body.get("generationConfig") or {}
    names = {"temperature": "temperature", "topP": "top_p", "maxOutputTokens": "max_tokens"}
    names |= {"stopSequences": "stop", "candidateCount": "n"}
    for key, value in config.items():
        if key in names:
            call[names[key]] = value
    mime = config.get("responseMimeType") or config.get("response_mime_type")
    schema = (
        config.get("responseJsonSchema")
        or config.get("responseSchema")
        or config.get("response_schema")
    )
    if mime == "application/json":
        call["response_format"] = (
            {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}
            if schema
            else {"type": "json_object"}
        )
    elif schema:
        raise NotApplicable(f"a response schema with {mime} output")
    if extra:
        call["extra_body"] = extra
    return call


def _gemini_turns(contents: list[Any]) -> list[tuple[str, list[Any]]]:
    turns: list[tuple[str, list[Any]]] = []
    for content in contents:
        role = content.get("role", "user")
        summary: list[Any] = []
        for p in map(_camel, content["parts"]):
            if p.get("thought"):
                continue
            if p.get("text"):
                summary.append(("text", p["text"]))
            elif "inlineData" in p:
                summary.append(
                    ("inline", p["inlineData"]["mimeType"], len(p["inlineData"]["data"]))
                )
            elif "functionCall" in p:
                summary.append(("call", p["functionCall"]["name"], p["functionCall"].get("args")))
            elif "functionResponse" in p:
                r = p["functionResponse"]
                summary.append(("response", r["name"], r.get("response")))
        if turns and turns[-1][0] == role:
            turns[-1][1].extend(summary)
        elif summary:
            turns.append((role, summary))
    return turns


def check_gemini(record: Interaction, sent_path: str, sent: Mapping[str, Any]) -> None:
    recorded = record.request
    want = urlsplit(record.uri).path.rsplit("/", 1)[-1]
    assert sent_path.split("?")[0].rsplit("/", 1)[-1] == want, (
        sent_path.split("?")[0].rsplit("/", 1)[-1],
        want,
    )
    sys_want = recorded.get("systemInstruction") or recorded.get("system_instruction")
    sys_sent = sent.get("systemInstruction")
    assert _text((sys_sent or {}).get("parts")) == _text((sys_want or {}).get("parts")), (
        _text((sys_sent or {}).get("parts")),
        _text((sys_want or {}).get("parts")),
    )
    assert _gemini_turns(sent["contents"]) == _gemini_turns(recorded["contents"]), (
        _gemini_turns(sent["contents"]),
        _gemini_turns(recorded["contents"]),
    )
    names = [
        d["name"]
        for t in map(_camel, _gemini_tools(recorded))
        for d in t.get("functionDeclarations") or ()
    ]
    sent_names = [
        d["name"] for t in sent.get("tools") or () for d in t.get("functionDeclarations") or ()
    ]
    assert sent_names == names, (sent_names, names)
    config, sent_config = recorded.get("generationConfig") or {}, sent.get("generationConfig") or {}
    for key in ("temperature", "topP", "maxOutputTokens", "stopSequences"):
        if key in config:
            assert sent_config.get(key) == config[key], key
    if (config.get("responseMimeType") or config.get("response_mime_type")) == "application/json":
        assert sent_config.get("responseMimeType") == "application/json", (
            sent_config.get("responseMimeType"),
            "application/json",
        )


def gemini_model(uri: str) -> str:
    return urlsplit(uri).path.rsplit("/", 1)[-1].split(":")[0]


# -- Ollama native dialect -----------------------------------------------------------------------
def ollama_call(body: Mapping[str, Any]) -> dict[str, Any]:
    # Ollama's tool calls and results carry no ids; an OpenAI caller numbers them.
    messages, pending, count = [], [], 0
    for m in body["messages"]:
        m = dict(m)
        if m.get("tool_calls"):
            m["tool_calls"] = calls = [dict(c) for c in m["tool_calls"]]
            for c in calls:
                count += 1
                c.setdefault("id", f"call_{count}")
                c.setdefault("type", "function")
                args = c["function"].get("arguments")
                if not isinstance(args, str):
                    c["function"] = {**c["function"], "arguments": json.dumps(args or {})}
                pending.append(c["id"])
        elif m.get("role") == "tool" and not m.get("tool_call_id"):
            m["tool_call_id"] = pending.pop(0)
        messages.append(m)
    call: dict[str, Any] = {"model": body["model"], "messages": messages}
    extra = {k: v for k, v in body.items() if k not in ("model", "messages", "stream", "tools")}
    if body.get("tools"):
        call["tools"] = body["tools"]
    if any(m.get("images") for m in body["messages"]):
        raise NotApplicable("Ollama's own images field on a message")
    if extra:
        call["extra_body"] = extra
    return call


def check_ollama(recorded: Mapping[str, Any], sent: Mapping[str, Any]) -> None:
    assert sent["model"] == recorded["model"], (sent["model"], recorded["model"])
    assert [(m["role"], _text(m.get("content"))) for m in sent["messages"]] == [
        (m["role"], _text(m.get("content"))) for m in recorded["messages"]
    ]
    assert _tool_names(sent.get("tools")) == _tool_names(recorded.get("tools")), (
        _tool_names(sent.get("tools")),
        _tool_names(recorded.get("tools")),
    )
