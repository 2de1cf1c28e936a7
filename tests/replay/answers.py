"""What a recorded response says, read straight from its body as each provider documents its
wire format: the text, reasoning, tool calls, finish reason (in OpenAI's words) and token
usage of the first choice. Written apart from polymux's translations, so the replay compares
two readings of the same real bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .server import Interaction


@dataclass
class Expected:
    text: str = ""
    reasoning: str = ""
    #: (id or None when the provider gives none, name, arguments as JSON) per call, in order.
    tool_calls: list[tuple[str | None, str, Any]] = field(default_factory=list)
    finish: str | None = None
    #: (prompt, completion, total) as reported, None when the answer reports none.
    usage: tuple[int, int, int] | None = None
    #: The HTTP status the provider answered with, or that an error event carried.
    error: int | None = None
    #: An error event without a status: polymux reports it as a plain APIError.
    error_event: bool = False


def _sse_data(body: str) -> Iterator[str]:
    data: list[str] = []
    for line in [*body.replace("\r\n", "\n").split("\n"), ""]:
        if not line:
            if data:
                yield "\n".join(data)
            data = []
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))


def _finish(value: Any, table: dict[str, str], tools: bool) -> str | None:
    if value is None:
        return None
    reason = table.get(value, "stop")
    return "tool_calls" if reason == "stop" and tools else reason


# -- OpenAI ------------------------------------------------------------------------------------
_OPENAI_FINISH = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}


def _openai_content(content: Any, out: Expected) -> None:
    """Content as a string, or (Mistral's reasoning models) a list of text / thinking parts."""
    if isinstance(content, str):
        out.text += content
        return
    for part in content or ():
        if part.get("type") == "text":
            out.text += part.get("text") or ""
        elif part.get("type") == "thinking":
            for inner in part.get("thinking") or ():
                out.reasoning += inner.get("text") or ""


def _openai_usage(usage: Any) -> tuple[int, int, int] | None:
    if not usage:
        return None
    prompt, completion = usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0
    return prompt, completion, usage.get("total_tokens") or prompt + completion


def openai(record: Interaction) -> Expected:
    out = Expected()
    if record.status >= 400:
        out.error = record.status
        return out
    if not record.stream:
        payload = json.loads(record.body)
        choice = payload["choices"][0]
        message = choice["message"]
        _openai_content(message.get("content"), out)
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        out.reasoning += reasoning if isinstance(reasoning, str) else ""
        for call in message.get("tool_calls") or ():
            args = call["function"].get("arguments") or "{}"
            args = json.loads(args) if isinstance(args, str) else args
            out.tool_calls.append((call.get("id"), call["function"]["name"], args or {}))
        out.finish = _finish(choice.get("finish_reason"), _OPENAI_FINISH, bool(out.tool_calls))
        out.usage = _openai_usage(payload.get("usage"))
        return out
    calls: dict[int, list[Any]] = {}
    reason = None
    for data in _sse_data(record.body):
        if data == "[DONE]":
            break
        chunk = json.loads(data)
        if "error" in chunk:
            status = chunk["error"].get("status_code") or chunk["error"].get("code")
            if isinstance(status, int):
                out.error = status
            else:
                out.error_event = True
            return out
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0):
                continue
            delta = choice.get("delta") or {}
            _openai_content(delta.get("content"), out)
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            out.reasoning += reasoning if isinstance(reasoning, str) else ""
            for call in delta.get("tool_calls") or ():
                index = call.get("index", len(calls) - (0 if call.get("id") else 1))
                entry = calls.setdefault(index, [None, "", ""])
                fn = call.get("function") or {}
                entry[0] = entry[0] or call.get("id")
                entry[1] = entry[1] or fn.get("name") or ""
                entry[2] += fn.get("arguments") or ""
            reason = choice.get("finish_reason") or reason
        out.usage = _openai_usage(chunk.get("usage")) or out.usage
    out.tool_calls = [(i, n, json.loads(a or "{}")) for i, n, a in calls.values()]
    out.finish = _finish(reason, _OPENAI_FINISH, bool(out.tool_calls))
    return out


# -- Anthropic ---------------------------------------------------------------------------------
_ANTHROPIC_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
_ANTHROPIC_ERRORS = {"invalid_request_error": 400, "rate_limit_error": 429, "api_error": 500}
_ANTHROPIC_ERRORS |= {"overloaded_error": 529, "authentication_error": 401}


def _anthropic_usage(usage: dict[str, Any]) -> tuple[int, int, int]:
    prompt = sum(
        usage.get(k) or 0
        for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    )
    completion = usage.get("output_tokens") or 0
    return prompt, completion, prompt + completion


def anthropic(record: Interaction) -> Expected:
    out = Expected()
    if record.status >= 400:
        out.error = record.status
        return out
    if not record.stream:
        payload = json.loads(record.body)
        for block in payload["content"]:
            if block["type"] == "text":
                out.text += block["text"]
            elif block["type"] == "thinking":
                out.reasoning += block["thinking"]
            elif block["type"] == "tool_use":
                out.tool_calls.append((block["id"], block["name"], block["input"]))
        out.finish = _finish(payload.get("stop_reason"), _ANTHROPIC_FINISH, bool(out.tool_calls))
        out.usage = _anthropic_usage(payload["usage"])
        return out
    blocks: dict[int, list[Any]] = {}
    usage: dict[str, Any] = {}
    for data in _sse_data(record.body):
        event = json.loads(data)
        kind = event["type"]
        if kind == "message_start":
            usage = dict(event["message"].get("usage") or {})
        elif kind == "content_block_start":
            block = event["content_block"]
            blocks[event["index"]] = [block["type"], block.get("id"), block.get("name"), ""]
        elif kind == "content_block_delta":
            delta, entry = event["delta"], blocks[event["index"]]
            entry[3] += (
                delta.get("text") or delta.get("thinking") or delta.get("partial_json") or ""
            )
        elif kind == "message_delta":
            usage |= {k: v for k, v in (event.get("usage") or {}).items() if v is not None}
            out.finish = event["delta"].get("stop_reason") or out.finish
        elif kind == "error":
            out.error = _ANTHROPIC_ERRORS.get(event["error"]["type"])
            out.error_event = out.error is None
            return out
    for kind, call_id, name, value in blocks.values():
        if kind == "text":
            out.text += value
        elif kind == "thinking":
            out.reasoning += value
        elif kind == "tool_use":
            out.tool_calls.append((call_id, name, json.loads(value or "{}")))
    out.finish = _finish(out.finish, _ANTHROPIC_FINISH, bool(out.tool_calls))
    out.usage = _anthropic_usage(usage)
    return out


# -- Gemini ------------------------------------------------------------------------------------
_GEMINI_FINISH = {"STOP": "stop", "MAX_TOKENS": "length"}
_GEMINI_FINISH |= {
    k: "content_filter"
    for k in ("SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY")
}


def gemini_pieces(record: Interaction) -> list[dict[str, Any]]:
    """The GenerateContentResponse objects of a recorded answer: one for a whole answer, one
    per event of an SSE stream, one per element of a stream llm-gemini kept as a JSON array."""
    if record.stream and "event-stream" in record.content_type:
        return [json.loads(d) for d in _sse_data(record.body)]
    payload = json.loads(record.body)
    return payload if isinstance(payload, list) else [payload]


def gemini(record: Interaction) -> Expected:
    out = Expected()
    if record.status >= 400:
        out.error = record.status
        return out
    reason = None
    for piece in gemini_pieces(record):
        for candidate in piece.get("candidates") or ():
            if candidate.get("index", 0):
                continue
            for part in (candidate.get("content") or {}).get("parts") or ():
                if part.get("text"):
                    if part.get("thought"):
                        out.reasoning += part["text"]
                    else:
                        out.text += part["text"]
                elif part.get("functionCall"):
                    call = part["functionCall"]
                    out.tool_calls.append((call.get("id"), call["name"], call.get("args") or {}))
            reason = candidate.get("finishReason") or reason
        if not piece.get("candidates") and (piece.get("promptFeedback") or {}).get("blockReason"):
            reason = "SAFETY"
        meta = piece.get("usageMetadata")
        if meta:
            prompt = (meta.get("promptTokenCount") or 0) + (
                meta.get("toolUsePromptTokenCount") or 0
            )
            completion = (meta.get("candidatesTokenCount") or 0) + (
                meta.get("thoughtsTokenCount") or 0
            )
            out.usage = (prompt, completion, meta.get("totalTokenCount") or prompt + completion)
    out.finish = _finish(reason, _GEMINI_FINISH, bool(out.tool_calls))
    return out


# -- Ollama ------------------------------------------------------------------------------------
def ollama(record: Interaction) -> Expected:
    out = Expected()
    lines = [json.loads(line) for line in record.body.splitlines() if line.strip()]
    for line in lines:
        message = line.get("message") or {}
        out.text += message.get("content") or ""
        out.reasoning += message.get("thinking") or ""
        for call in message.get("tool_calls") or ():
            fn = call["function"]
            out.tool_calls.append((call.get("id"), fn["name"], fn.get("arguments") or {}))
        if line.get("done"):
            reason = line.get("done_reason") or "stop"
            out.finish = _finish(reason, {"stop": "stop", "length": "length"}, bool(out.tool_calls))
            if "prompt_eval_count" in line or "eval_count" in line:
                prompt, completion = line.get("prompt_eval_count", 0), line.get("eval_count", 0)
                out.usage = (prompt, completion, prompt + completion)
    return out
