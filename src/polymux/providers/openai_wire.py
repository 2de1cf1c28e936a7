"""The OpenAI Chat Completions dialect: request bodies out, events in. Pure functions.

Every OpenAI-compatible host speaks this dialect with small differences; those are the
``Quirks`` data of each host (see vendors.py), never branches on host names.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import orjson

from ..transport.errors import embedded_error
from ..types.events import (
    ChatEvent,
    Finish,
    FinishReason,
    ReasoningDelta,
    RefusalDelta,
    ResponseInfo,
    TextDelta,
    ToolCallDelta,
    Usage,
    WholeChoice,
)
from ..types.request import BODY_FIELDS, ChatRequest

__all__ = [
    "Quirks",
    "build_chat_body",
    "chunk_events",
    "completion_events",
    "map_finish_reason",
    "usage_event",
]

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}


@dataclass(frozen=True, slots=True)
class Quirks:
    """How one host departs from OpenAI's own API. Data, not code."""

    #: The host understands the ``developer`` role (else it becomes ``system``).
    developer_role: bool = False
    #: The host accepts ``stream_options: {"include_usage": true}``.
    stream_usage: bool = True
    #: Send ``max_tokens`` as ``max_completion_tokens`` (OpenAI's reasoning models need it).
    max_completion_tokens: bool = False
    #: Parameters the host rejects with a 400; dropped before sending.
    unsupported_params: frozenset[str] = frozenset()
    #: The host rejects ``messages[].name``.
    strip_message_names: bool = False
    #: Tool-call ids must be exactly nine ASCII letters or digits (Mistral).
    nine_char_tool_ids: bool = False
    #: The body field that carries ``seed``.
    seed_field: str = "seed"


def map_finish_reason(value: Any) -> FinishReason:
    return _FINISH.get(value, "stop") if isinstance(value, str) else "stop"


def usage_event(usage: Mapping[str, Any]) -> Usage:
    prompt = usage.get("prompt_tokens") or 0
    completion = usage.get("completion_tokens") or 0
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if details else None
    details = usage.get("completion_tokens_details")
    reasoning = details.get("reasoning_tokens") if details else None
    total = usage.get("total_tokens")
    return Usage(int(prompt), int(completion), cached, reasoning, int(total) if total else None)


def content_parts(content: list[Any]) -> tuple[str, str]:
    """(text, reasoning) of content given as parts: text parts are the answer, thinking parts
    (Mistral's reasoning models: ``{"type": "thinking", "thinking": [text parts]}``) the
    reasoning."""
    text: list[str] = []
    reasoning: list[str] = []
    for part in content:
        if not isinstance(part, Mapping):
            raise TypeError(f"a content part is {type(part).__name__}, not an object")
        kind = part.get("type")
        if kind == "thinking":
            inner = part.get("thinking")
            if isinstance(inner, str):
                reasoning.append(inner)
            else:
                reasoning += [
                    str(p.get("text") or "") for p in inner or () if isinstance(p, Mapping)
                ]
        elif kind in ("text", None):
            text.append(str(part.get("text") or ""))
    return "".join(text), "".join(reasoning)


_NINE = re.compile(r"^[A-Za-z0-9]{9}$")
_ALNUM = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def nine_char_id(call_id: str) -> str:
    """A stable 9-character alphanumeric id for any tool-call id (the same id maps the same
    way in the assistant's ``tool_calls`` and in the ``tool`` message answering it)."""
    if _NINE.match(call_id):
        return call_id
    n = int.from_bytes(hashlib.sha256(call_id.encode()).digest()[:8], "big")
    out = []
    for _ in range(9):
        n, r = divmod(n, 62)
        out.append(_ALNUM[r])
    return "".join(out)


def _message(message: Mapping[str, Any], quirks: Quirks) -> dict[str, Any]:
    out = dict(message)
    if out.get("role") == "developer" and not quirks.developer_role:
        out["role"] = "system"
    if quirks.strip_message_names:
        out.pop("name", None)
    if quirks.nine_char_tool_ids:
        if out.get("tool_calls"):
            out["tool_calls"] = [
                {**c, "id": nine_char_id(str(c.get("id", "")))} for c in out["tool_calls"]
            ]
        if out.get("role") == "tool" and out.get("tool_call_id"):
            out["tool_call_id"] = nine_char_id(str(out["tool_call_id"]))
    return out


_body_values = attrgetter(*BODY_FIELDS)
_UNSET = (None,) * len(BODY_FIELDS)


def build_chat_body(request: ChatRequest, quirks: Quirks, *, stream: bool) -> dict[str, Any]:
    """The JSON body of ``POST /chat/completions`` for this request on this host."""
    rewrite = quirks.strip_message_names or quirks.nine_char_tool_ids
    if not rewrite and not quirks.developer_role:
        for m in request.messages:
            if m.get("role") == "developer":
                rewrite = True
                break
    messages = [_message(m, quirks) for m in request.messages] if rewrite else request.messages
    body: dict[str, Any] = {"model": request.model, "messages": messages}
    values = _body_values(request)
    if values != _UNSET:  # most calls set none of these: one C call and one compare
        for name, value in zip(BODY_FIELDS, values):
            if value is not None:
                body[name] = value
    if quirks.max_completion_tokens and "max_tokens" in body:
        body.setdefault("max_completion_tokens", body.pop("max_tokens"))
    if quirks.seed_field != "seed" and "seed" in body:
        body[quirks.seed_field] = body.pop("seed")
    for name in quirks.unsupported_params:
        body.pop(name, None)
    if stream:
        body["stream"] = True
        if quirks.stream_usage:
            # Always ask for real usage; the fold decides whether the caller sees a usage chunk.
            body["stream_options"] = {**(request.stream_options or {}), "include_usage": True}
    body.update(request.extra_body)
    return body


class _ToolIndex:
    """Tool-call positions for hosts that omit ``index``: a new id starts a new call."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count: dict[int, int] = {}

    def of(self, choice: int, call: Mapping[str, Any]) -> int:
        index = call.get("index")
        if isinstance(index, int):
            self.count[choice] = max(self.count.get(choice, 0), index + 1)
            return index
        n = self.count.get(choice, 0)
        if call.get("id") or n == 0:
            self.count[choice] = n + 1
            return n
        return n - 1


class StreamState:
    """What one stream's translation remembers between chunks."""

    __slots__ = ("finished", "secrets", "started", "tools")

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        self.started = False
        self.finished = False
        self.tools = _ToolIndex()
        #: The credentials the request carried: redacted from an error the stream reports.
        self.secrets = secrets


def chunk_events(chunk: Mapping[str, Any], state: StreamState, provider: str) -> list[ChatEvent]:
    """Events of one streamed ``chat.completion.chunk``. The per-chunk hot path: a list, not a
    generator, because most chunks hold one event and a list is cheaper to make and walk.

    A chunk of the wrong shape raises AttributeError / TypeError / ValueError; the caller
    turns those into ``APIResponseValidationError`` (checking every field here would cost
    every chunk what only broken hosts need).
    """
    events: list[ChatEvent] = []
    if not state.started:
        state.started = True
        events.append(
            ResponseInfo(
                chunk.get("id"),
                chunk.get("model"),
                chunk.get("created"),
                chunk.get("system_fingerprint"),
            )
        )
    if "error" in chunk:
        error = embedded_error(chunk, provider, state.secrets)
        if error is not None:
            raise error
    for choice in chunk.get("choices") or ():
        index = choice.get("index") or 0
        delta = choice.get("delta")
        if delta:
            content = delta.get("content")
            if content:
                if type(content) is list:  # parts (Mistral's reasoning models stream these)
                    content, thinking = content_parts(content)
                    if thinking:
                        events.append(ReasoningDelta(thinking, index))
                    if content:
                        events.append(TextDelta(content, index))
                else:
                    events.append(TextDelta(content, index) if index else content)
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if reasoning and isinstance(reasoning, str):
                events.append(ReasoningDelta(reasoning, index))
            refusal = delta.get("refusal")
            if refusal:
                events.append(RefusalDelta(refusal, index))
            calls = delta.get("tool_calls")
            if calls:
                for call in calls:
                    fn = call.get("function") or {}
                    events.append(
                        ToolCallDelta(
                            state.tools.of(index, call),
                            call.get("id"),
                            fn.get("name"),
                            fn.get("arguments") or "",
                            index,
                        )
                    )
        reason = choice.get("finish_reason")
        if reason:
            state.finished = True
            events.append(Finish(map_finish_reason(reason), index))
    usage = chunk.get("usage")
    if usage:
        events.append(usage_event(usage))
    return events


def completion_events(
    payload: Mapping[str, Any], provider: str, secrets: tuple[str, ...] = ()
) -> list[ChatEvent]:
    """Events of a whole (non-streamed) ``chat.completion``; ``secrets``: the request's
    credentials, redacted from an error the answer holds."""
    if "error" in payload:
        error = embedded_error(payload, provider, secrets)
        if error is not None:
            raise error
    events: list[ChatEvent] = [
        ResponseInfo(
            payload.get("id"),
            payload.get("model"),
            payload.get("created"),
            payload.get("system_fingerprint"),
        )
    ]
    for choice in payload.get("choices") or ():
        index = choice.get("index") or 0
        message = choice.get("message") or {}
        content = message.get("content")
        reason = choice.get("finish_reason")
        thinking = ""
        if type(content) is list:  # parts: a few hosts send them, Mistral with thinking parts
            content, thinking = content_parts(content)
        whole = WholeChoice(
            content if type(content) is str else _answer_text(content),
            _FINISH.get(reason, "stop") if type(reason) is str else map_finish_reason(reason),
            index,
        )
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        if reasoning and isinstance(reasoning, str):
            whole.reasoning = reasoning
        elif thinking:
            whole.reasoning = thinking
        refusal = message.get("refusal")
        if refusal:
            whole.refusal = refusal
        calls = message.get("tool_calls")
        if calls:
            whole.tool_calls = [
                _whole_call(position, call, index) for position, call in enumerate(calls)
            ]
        events.append(whole)
    usage = payload.get("usage")
    if usage:
        events.append(usage_event(usage))
    return events


def _answer_text(content: Any) -> str:
    """An answer's content as text (parts were read before)."""
    return str(content) if content else ""


def _whole_call(position: int, call: Mapping[str, Any], index: int) -> ToolCallDelta:
    fn = call.get("function") or {}
    arguments = fn.get("arguments")
    if not isinstance(arguments, str):  # some hosts send an object
        arguments = orjson.dumps(arguments or {}).decode()
    return ToolCallDelta(position, call.get("id"), fn.get("name"), arguments, index)
