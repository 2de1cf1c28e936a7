"""The Cohere v2 Chat dialect (``POST /v2/chat``): OpenAI-shaped requests out, events in.
Pure functions.

Cohere's v2 messages are close to OpenAI's (system / user / assistant / tool roles, text and
image_url parts, tool calls with JSON-string arguments); it differs in the sampling names
(``p``, ``k``, ``stop_sequences``), in ``tool_choice`` (``REQUIRED`` / ``NONE``, no named
tool), in the plan a model writes before calling tools (``tool_plan``), and in its stream: one
typed event per SSE message (``message-start``, ``content-delta``, ``tool-call-start`` ...,
``message-end`` with the finish reason and usage). Citations of documents and tool results
arrive as ``citation-start`` events and ``message.citations``; polymux reads past them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..dialects.anthropic import THINKING_BUDGET
from ..errors import APIError, UnsupportedCapabilityError
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
from ..types.request import ChatRequest
from .openai_shape import content_text, effort_budget

__all__ = ["StreamState", "build_chat_body", "message_events"]

_FINISH: dict[str, FinishReason] = {
    "COMPLETE": "stop",
    "STOP_SEQUENCE": "stop",
    "MAX_TOKENS": "length",
    "TOOL_CALL": "tool_calls",
}


# -- request -----------------------------------------------------------------------------------
def _content(content: Any) -> str | list[dict[str, Any]]:
    if content is None or isinstance(content, str):
        return content or ""
    parts: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type")
        if kind in ("text", "refusal"):
            parts.append({"type": "text", "text": part.get("text") or part.get("refusal") or ""})
        elif kind == "image_url":
            parts.append({"type": "image_url", "image_url": {"url": part["image_url"]["url"]}})
        else:
            raise UnsupportedCapabilityError(f"Cohere provider does not accept {kind} parts")
    return parts


def _message(message: Mapping[str, Any]) -> dict[str, Any]:
    role = message.get("role")
    if role in ("system", "developer"):
        return {"role": "system", "content": content_text(message.get("content"))}
    if role == "user":
        return {"role": "user", "content": _content(message.get("content"))}
    if role == "tool":
        content = message.get("content")
        text = content if isinstance(content, str) else content_text(content)
        return {"role": "tool", "tool_call_id": message["tool_call_id"], "content": text}
    if role == "assistant":
        out: dict[str, Any] = {"role": "assistant"}
        calls = message.get("tool_calls")
        text = content_text(message.get("content"))
        if calls:
            out["tool_calls"] = [
                {
                    "id": call.get("id"),
                    "type": "function",
                    "function": {
                        "name": (call.get("function") or {}).get("name"),
                        "arguments": (call.get("function") or {}).get("arguments") or "{}",
                    },
                }
                for call in calls
            ]
            if text:  # what the model said before calling tools is its plan
                out["tool_plan"] = text
        else:
            out["content"] = text
        return out
    raise UnsupportedCapabilityError(f"Cohere provider does not accept {role} messages")


def _tools(request: ChatRequest) -> tuple[list[Any], str | None]:
    """(tools, tool_choice). A named tool choice has no Cohere form: the other tools are left
    out and a tool call is required, which asks the same."""
    tools = list(request.tools or ())
    choice = request.tool_choice
    if choice is None or choice == "auto":
        return tools, None
    if choice == "none":
        return tools, "NONE"
    if choice == "required":
        return tools, "REQUIRED"
    name = choice["function"]["name"] if isinstance(choice, Mapping) else None
    return [t for t in tools if t["function"]["name"] == name], "REQUIRED"


def build_chat_body(request: ChatRequest, *, stream: bool) -> dict[str, Any]:
    """The JSON body of ``POST /v2/chat`` for this request."""
    if (request.n or 1) > 1:
        raise UnsupportedCapabilityError("Cohere answers with one choice: n must be 1")
    body: dict[str, Any] = {
        "model": request.model,
        "messages": [_message(m) for m in request.messages],
    }
    for field, key in (
        ("temperature", "temperature"),
        ("top_p", "p"),
        ("seed", "seed"),
        ("presence_penalty", "presence_penalty"),
        ("frequency_penalty", "frequency_penalty"),
    ):
        value = getattr(request, field)
        if value is not None:
            body[key] = value
    if request.token_limit is not None:
        body["max_tokens"] = request.token_limit
    if request.stop:
        body["stop_sequences"] = list(request.stop)
    tools, choice = _tools(request)
    if tools:
        body["tools"] = tools
    if choice is not None:
        body["tool_choice"] = choice
    fmt = request.response_format
    if fmt is not None:
        body["response_format"] = {"type": "json_object"}
        if fmt["type"] == "json_schema":
            body["response_format"]["json_schema"] = fmt["json_schema"]["schema"]
    effort = request.reasoning_effort
    if effort is not None:  # token budgets as for Claude's extended thinking
        budget = effort_budget(effort, THINKING_BUDGET)
        body["thinking"] = (
            {"type": "enabled", "token_budget": budget} if budget else {"type": "disabled"}
        )
    if stream:
        body["stream"] = True
    body.update(request.extra_body)
    return body


# -- response ----------------------------------------------------------------------------------
def _usage(usage: Mapping[str, Any]) -> Usage:
    """Tokens the model read and wrote (``tokens``), else the billed ones."""
    counts = usage.get("tokens") or usage.get("billed_units") or {}
    return Usage(int(counts.get("input_tokens") or 0), int(counts.get("output_tokens") or 0))


class StreamState:
    """What one answer's translation remembers between events."""

    __slots__ = ("finished", "provider", "thinking")

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.finished = False
        self.thinking: set[int] = set()  # content indexes that are thinking blocks

    def _end(self, delta: Mapping[str, Any]) -> Iterator[ChatEvent]:
        reason = str(delta.get("finish_reason") or "").upper()
        if reason in ("ERROR", "TIMEOUT") or delta.get("error"):
            raise APIError(
                f"Cohere ended the answer with {reason or 'an error'}: "
                f"{delta.get('error') or 'no detail given'}",
                provider=self.provider,
                body=dict(delta),
            )
        self.finished = True
        yield Finish(_FINISH.get(reason, "stop"))
        if delta.get("usage"):
            yield _usage(delta["usage"])

    def events(self, kind: str, payload: Mapping[str, Any]) -> Iterator[ChatEvent]:
        """Events of one streamed event (``kind`` is its type)."""
        delta = payload.get("delta") or {}
        message = delta.get("message") or {}
        index = payload.get("index") or 0
        if kind == "content-delta":
            content = message.get("content") or {}
            if content.get("thinking"):
                yield ReasoningDelta(content["thinking"])
            elif content.get("text"):
                text = content["text"]
                yield ReasoningDelta(text) if index in self.thinking else text
        elif kind == "content-start":
            content = message.get("content") or {}
            if content.get("type") == "thinking":
                self.thinking.add(index)
            text = content.get("text") or content.get("thinking")
            if text:
                yield ReasoningDelta(text) if index in self.thinking else TextDelta(text)
        elif kind == "tool-plan-delta":
            plan = message.get("tool_plan")
            if plan:
                yield ReasoningDelta(plan)
        elif kind in ("tool-call-start", "tool-call-delta"):
            call = message.get("tool_calls") or {}
            fn = call.get("function") or {}
            yield ToolCallDelta(index, call.get("id"), fn.get("name"), fn.get("arguments") or "")
        elif kind == "message-start":
            yield ResponseInfo(payload.get("id"))
        elif kind == "message-end":
            yield from self._end(delta)
        # content-end, tool-call-end, citation-start/-end, debug: nothing to show


def message_events(payload: Mapping[str, Any], state: StreamState) -> list[ChatEvent]:
    """Events of a whole (non-streamed) answer."""
    events: list[ChatEvent] = [ResponseInfo(payload.get("id"))]
    message = payload.get("message") or {}
    if message.get("tool_plan"):
        events.append(ReasoningDelta(message["tool_plan"]))
    for block in message.get("content") or ():
        if block.get("type") == "thinking" and block.get("thinking"):
            events.append(ReasoningDelta(block["thinking"]))
        elif block.get("type") == "text" and block.get("text"):
            events.append(TextDelta(block["text"]))
    for position, call in enumerate(message.get("tool_calls") or ()):
        fn = call.get("function") or {}
        events.append(
            ToolCallDelta(position, call.get("id"), fn.get("name"), fn.get("arguments") or "{}")
        )
    end = {"finish_reason": payload.get("finish_reason"), "usage": payload.get("usage")}
    events += state._end(end)
    return events
