"""The Anthropic Messages dialect, in one place for both directions.

Its vocabulary (stop reasons, error types, thinking budgets, tool choice, image types) is
shared by the Anthropic provider, which sends OpenAI-shaped requests to Anthropic
(providers/anthropic_wire.py) and reads its answers back (providers/anthropic_stream.py),
and by the gateway's ``/v1/messages`` front door, which runs the other way: a Messages
request body -> the Chat Completions body every provider takes (``chat_body``), and the
answer -> a Message (``message_from_completion``) or the Messages stream's events
(``MessageEvents``). Pure functions and tables, no I/O.

What has no equivalent outside Anthropic (signed thinking, cache_control, citations, server
tools, top_k) is dropped or refused here; the gateway passes requests for Anthropic models
through untranslated, so nothing is lost there (server/messages.py).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson

from ..errors import APIResponseValidationError, InvalidRequestError, UnsupportedCapabilityError
from ..types.chat import ChatCompletion, ChatCompletionChunk, CompletionUsage
from ..types.events import FinishReason
from ..types.request import WEB_SEARCH, web_search_options

__all__ = [
    "ANTHROPIC_VERSION",
    "ERROR_STATUS",
    "FINISH_TO_STOP",
    "IMAGE_TYPES",
    "MESSAGES_FIELDS",
    "STOP_TO_FINISH",
    "THINKING_BUDGET",
    "MessageEvents",
    "anthropic_tool_choice",
    "chat_body",
    "effort_for_budget",
    "error_body",
    "error_type",
    "message_from_completion",
]

log = logging.getLogger("polymux.dialects.anthropic")

#: The top-level fields of a Messages request (and of count_tokens, a subset): what the
#: gateway's ``/v1/messages`` takes by name. Some only Anthropic serves; translated for
#: another upstream, those are dropped or refused by ``chat_body``.
MESSAGES_FIELDS = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "system",
        "stop_sequences",
        "stream",
        "temperature",
        "top_p",
        "top_k",
        "metadata",
        "tools",
        "tool_choice",
        "thinking",
        "service_tier",
        "container",
        "mcp_servers",
        "context_management",
        "cache_control",
        "output_config",
        "output_format",
        "inference_geo",
    }
)

#: The ``anthropic-version`` header: the one stable API version (the official SDK still sends it).
ANTHROPIC_VERSION = "2023-06-01"

#: Image types the Messages API accepts.
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})

#: stop_reason -> OpenAI finish_reason (docs.anthropic.com/en/api/messages, stop_reason).
STOP_TO_FINISH: Mapping[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",  # no OpenAI equivalent: the caller resends to continue
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

#: OpenAI finish_reason -> stop_reason. ``stop`` is ``end_turn``: an OpenAI-shaped answer does
#: not say whether a stop sequence ended it.
FINISH_TO_STOP: Mapping[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}

#: error.type of an Anthropic error body -> its HTTP status (docs.anthropic.com/en/api/errors).
ERROR_STATUS: Mapping[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
_TYPE_OF_STATUS = {status: kind for kind, status in ERROR_STATUS.items()}

#: reasoning_effort -> extended-thinking budget (tokens; at least 1024); 0 turns thinking off.
THINKING_BUDGET: Mapping[str, int] = {
    "none": 0,
    "minimal": 1024,
    "low": 2048,
    "medium": 8192,
    "high": 16384,
    "xhigh": 32768,
}


def error_type(status: int) -> str:
    """The Anthropic error type of an HTTP status."""
    kind = _TYPE_OF_STATUS.get(status)
    if kind is not None:
        return kind
    if status == 503:
        return "overloaded_error"
    return "api_error" if status >= 500 else "invalid_request_error"


def error_body(status: int, message: str) -> dict[str, Any]:
    """An error answer in Anthropic's shape."""
    return {"type": "error", "error": {"type": error_type(status), "message": message}}


def effort_for_budget(budget: int) -> str:
    """The smallest reasoning_effort that thinks for at least ``budget`` tokens."""
    for effort, tokens in THINKING_BUDGET.items():
        if tokens and tokens >= budget:
            return effort
    return "xhigh"


def anthropic_tool_choice(choice: Any, parallel: bool | None) -> dict[str, Any] | None:
    """OpenAI tool_choice and parallel_tool_calls -> Anthropic's tool_choice (None: unset)."""
    if choice is None:
        out: dict[str, Any] | None = {"type": "auto"} if parallel is False else None
    elif choice == "auto":
        out = {"type": "auto"}
    elif choice == "none":
        return {"type": "none"}
    elif choice == "required":
        out = {"type": "any"}
    else:
        out = {"type": "tool", "name": choice["function"]["name"]}
    if out is not None and parallel is False:
        out["disable_parallel_tool_use"] = True
    return out


# -- Messages request -> Chat Completions request (the gateway's front door) -------------------
def _need(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidRequestError(message)


def _system_text(system: Any) -> str:
    if system is None or isinstance(system, str):
        return system or ""
    _need(
        isinstance(system, list) and all(isinstance(b, Mapping) for b in system),
        'system must be a string or a list of text blocks like {"type": "text", "text": "..."}',
    )
    texts = []
    for block in system:
        _need(block.get("type") == "text", "system blocks must be text blocks")
        texts.append(str(block.get("text") or ""))
    return "\n\n".join(t for t in texts if t)


def _image_part(source: Mapping[str, Any], where: str) -> dict[str, Any]:
    kind = source.get("type")
    if kind == "base64":
        media_type = source.get("media_type")
        _need(
            media_type in IMAGE_TYPES,
            f"{where}: media_type must be one of {', '.join(sorted(IMAGE_TYPES))}",
        )
        url = f"data:{media_type};base64,{source.get('data') or ''}"
    elif kind == "url":
        _need(isinstance(source.get("url"), str), f"{where}: an url source needs its url")
        url = source["url"]
    else:
        raise UnsupportedCapabilityError(
            f"{where}: image sources of type {kind!r} are served only for Anthropic models; "
            "send the image as base64 or a URL"
        )
    return {"type": "image_url", "image_url": {"url": url}}


def _document_parts(block: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    source = block.get("source")
    _need(isinstance(source, Mapping), f"{where}: a document block needs a source")
    assert isinstance(source, Mapping)
    kind = source.get("type")
    if kind == "text":
        return [{"type": "text", "text": str(source.get("data") or "")}]
    if kind == "content":
        inner = source.get("content")
        if isinstance(inner, str):
            return [{"type": "text", "text": inner}]
        if not isinstance(inner, list):
            raise InvalidRequestError(f"{where}: a content source needs a list of blocks")
        return [p for b in inner for p in _parts(b, where)]
    if kind == "base64":
        media_type = source.get("media_type") or "application/pdf"
        name = block.get("title") or "document.pdf"
        data = f"data:{media_type};base64,{source.get('data') or ''}"
        return [{"type": "file", "file": {"file_data": data, "filename": name}}]
    raise UnsupportedCapabilityError(
        f"{where}: document sources of type {kind!r} are served only for Anthropic models; "
        "send the document as base64 or text"
    )


def _parts(block: Any, where: str) -> list[dict[str, Any]]:
    """A user content block -> OpenAI content parts."""
    _need(isinstance(block, Mapping), f"{where} must be a content block object")
    kind = block.get("type")
    if kind == "text":
        _need(isinstance(block.get("text"), str), f"{where}: a text block needs its text")
        return [{"type": "text", "text": block["text"]}] if block["text"] else []
    if kind == "image":
        source = block.get("source")
        _need(isinstance(source, Mapping), f"{where}: an image block needs a source")
        return [_image_part(source, where)]
    if kind == "document":
        return _document_parts(block, where)
    if kind in ("thinking", "redacted_thinking"):
        return []  # signed for Anthropic only: no other upstream can read it back
    raise UnsupportedCapabilityError(
        f"{where}: {kind!r} blocks are served only for Anthropic models "
        "(this model's upstream speaks another dialect)"
    )


def _tool_result(block: Mapping[str, Any], where: str) -> tuple[dict[str, Any], list[Any]]:
    """A tool_result block -> (an OpenAI tool message, image parts to follow it)."""
    tool_use_id = block.get("tool_use_id")
    _need(isinstance(tool_use_id, str) and bool(tool_use_id), f"{where}: needs tool_use_id")
    content = block.get("content")
    texts: list[str] = []
    images: list[dict[str, Any]] = []
    if isinstance(content, str):
        texts.append(content)
    else:
        for j, inner in enumerate(content or ()):
            for part in _parts(inner, f"{where}.content[{j}]"):
                if part["type"] == "text":
                    texts.append(part["text"])
                else:
                    images.append(part)
    text = "\n".join(texts)
    if block.get("is_error"):
        text = f"Error: {text}"  # OpenAI tool messages have no error flag
    return {"role": "tool", "tool_call_id": tool_use_id, "content": text}, images


def _user_messages(content: list[Any], where: str) -> list[dict[str, Any]]:
    tools: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for j, block in enumerate(content):
        at = f"{where}.content[{j}]"
        if isinstance(block, Mapping) and block.get("type") == "tool_result":
            message, images = _tool_result(block, at)
            tools.append(message)
            parts += images
        else:
            parts += _parts(block, at)
    # Tool results answer the previous assistant turn, so they come first.
    return tools + ([{"role": "user", "content": parts}] if parts else [])


def _assistant_message(content: list[Any], where: str) -> list[dict[str, Any]]:
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for j, block in enumerate(content):
        at = f"{where}.content[{j}]"
        kind = block.get("type") if isinstance(block, Mapping) else None
        if kind == "tool_use":
            _need(
                isinstance(block.get("id"), str) and isinstance(block.get("name"), str),
                f"{at}: a tool_use block needs its id and name",
            )
            arguments = orjson.dumps(block.get("input") or {}).decode()
            calls.append(
                {
                    "id": block["id"],
                    "type": "function",
                    "function": {"name": block["name"], "arguments": arguments},
                }
            )
        else:
            texts += [p["text"] for p in _parts(block, at) if p["type"] == "text"]
    if not texts and not calls:
        return []
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
    if calls:
        message["tool_calls"] = calls
    return [message]


def _messages(messages: Any) -> list[dict[str, Any]]:
    _need(
        isinstance(messages, list) and bool(messages),
        'messages must be a non-empty array like [{"role": "user", "content": "Hello"}]',
    )
    out: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        _need(isinstance(message, Mapping), f"{where} must be an object with role and content")
        role = message.get("role")
        content = message.get("content")
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        _need(isinstance(content, list), f"{where}.content must be a string or a list of blocks")
        if role == "user":
            out += _user_messages(content, where)
        elif role == "assistant":
            out += _assistant_message(content, where)
        elif role == "system":  # a mid-conversation system block (newer API versions)
            text = "".join(p["text"] for b in content for p in _parts(b, where))
            if text:
                out.append({"role": "system", "content": text})
        else:
            raise InvalidRequestError(f'{where}.role must be "user" or "assistant", got {role!r}')
    return out


def _tools(tools: Any, chat: dict[str, Any]) -> list[dict[str, Any]]:
    _need(isinstance(tools, list), "tools must be an array of tool definitions")
    out = []
    for i, tool in enumerate(tools):
        _need(isinstance(tool, Mapping), f"tools[{i}] must be an object")
        kind = tool.get("type")
        if isinstance(kind, str) and kind.startswith("web_search_"):
            # The upstream's own search, if it has one (server/messages.py checks).
            chat[WEB_SEARCH] = web_search_options(tool.get("user_location"))
            continue
        if kind not in (None, "custom"):
            raise UnsupportedCapabilityError(
                f"tools[{i}] is Anthropic's {kind!r} tool, which runs only on Anthropic models; "
                "this model's upstream takes custom tools (name, description, input_schema)"
            )
        name = tool.get("name")
        _need(isinstance(name, str) and bool(name), f"tools[{i}] needs a name")
        function: dict[str, Any] = {
            "name": name,
            "parameters": tool.get("input_schema") or {"type": "object", "properties": {}},
        }
        if tool.get("description"):
            function["description"] = tool["description"]
        if tool.get("strict") is not None:
            function["strict"] = tool["strict"]
        out.append({"type": "function", "function": function})
    return out


def _tool_choice(choice: Any, chat: dict[str, Any]) -> None:
    _need(
        isinstance(choice, Mapping),
        'tool_choice must be an object like {"type": "auto"}, {"type": "any"}, '
        '{"type": "tool", "name": "..."} or {"type": "none"}',
    )
    kind = choice.get("type")
    if kind == "auto":
        chat["tool_choice"] = "auto"
    elif kind == "any":
        chat["tool_choice"] = "required"
    elif kind == "none":
        chat["tool_choice"] = "none"
    elif kind == "tool":
        _need(isinstance(choice.get("name"), str), 'tool_choice {"type": "tool"} needs a name')
        chat["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    else:
        raise InvalidRequestError(f"tool_choice.type must be auto, any, tool or none, got {kind!r}")
    if choice.get("disable_parallel_tool_use"):
        chat["parallel_tool_calls"] = False


def _thinking(thinking: Any) -> str | None:
    """The reasoning_effort for a ``thinking`` setting (None: the upstream's default)."""
    _need(isinstance(thinking, Mapping), 'thinking must be an object like {"type": "enabled", ...}')
    kind = thinking.get("type")
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        _need(
            isinstance(budget, int) and not isinstance(budget, bool) and budget >= 1024,
            "thinking.budget_tokens must be an integer of at least 1024",
        )
        return effort_for_budget(budget)
    _need(kind in ("disabled", "adaptive"), "thinking.type must be enabled, disabled or adaptive")
    return None


def _output_format(config: Any, chat: dict[str, Any]) -> None:
    if not isinstance(config, Mapping):
        return
    fmt = config.get("format")
    if isinstance(fmt, Mapping) and fmt.get("type") == "json_schema":
        spec = {"name": "output", "schema": fmt.get("schema") or {}}
        chat["response_format"] = {"type": "json_schema", "json_schema": spec}
    effort = config.get("effort")
    if isinstance(effort, str):
        chat["reasoning_effort"] = "xhigh" if effort == "max" else effort


def chat_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """A Messages request body -> the equivalent Chat Completions request body.

    Raises ``InvalidRequestError`` for a malformed body and ``UnsupportedCapabilityError``
    for what only Anthropic serves (server tools, file and document URL sources).
    ``cache_control``, ``top_k``, ``service_tier`` and thinking signatures are dropped.
    """
    model = body.get("model")
    _need(isinstance(model, str) and bool(model), "model is required (a string)")
    messages = _messages(body.get("messages"))
    system = _system_text(body.get("system"))
    if system:
        messages.insert(0, {"role": "system", "content": system})
    chat: dict[str, Any] = {"model": model, "messages": messages}
    max_tokens = body.get("max_tokens")
    if max_tokens is not None:
        _need(
            isinstance(max_tokens, int) and not isinstance(max_tokens, bool) and max_tokens >= 1,
            "max_tokens must be a positive integer",
        )
        chat["max_tokens"] = max_tokens
    stream = body.get("stream")
    _need(stream is None or isinstance(stream, bool), "stream must be true or false")
    chat["stream"] = bool(stream)
    stops = body.get("stop_sequences")
    if stops:
        _need(
            isinstance(stops, list) and all(isinstance(s, str) for s in stops),
            "stop_sequences must be an array of strings",
        )
        chat["stop"] = stops
    for name in ("temperature", "top_p"):
        if body.get(name) is not None:
            chat[name] = body[name]
    if body.get("top_k") is not None:
        log.debug("top_k has no Chat Completions equivalent; not sent")
    metadata = body.get("metadata")
    if isinstance(metadata, Mapping) and isinstance(metadata.get("user_id"), str):
        chat["user"] = metadata["user_id"]
    if body.get("tools"):
        functions = _tools(body["tools"], chat)
        if functions:
            chat["tools"] = functions
    if body.get("tool_choice") is not None:
        _tool_choice(body["tool_choice"], chat)
    if body.get("thinking") is not None:
        effort = _thinking(body["thinking"])
        if effort is not None:
            chat["reasoning_effort"] = effort
    _output_format(body.get("output_config"), chat)
    return chat


# -- answers -> Messages (the gateway's front door) --------------------------------------------
def _usage(usage: CompletionUsage | None) -> dict[str, int]:
    if usage is None:
        return {"input_tokens": 0, "output_tokens": 0}
    details = usage.prompt_tokens_details
    cached = (details.cached_tokens if details is not None else None) or 0
    return {
        # Anthropic counts cache reads apart from input_tokens; OpenAI's prompt includes them.
        "input_tokens": max(0, usage.prompt_tokens - cached),
        "output_tokens": usage.completion_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
    }


def _message_id(upstream: str) -> str:
    return upstream if upstream.startswith("msg_") else f"msg_{upstream}"


def _tool_input(arguments: str, name: str) -> dict[str, Any]:
    try:
        value = orjson.loads(arguments) if arguments.strip() else {}
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise APIResponseValidationError(
            f"the upstream called tool {name!r} with arguments that are not a JSON object"
        )
    return value


def message_from_completion(completion: ChatCompletion) -> dict[str, Any]:
    """A whole answer (choice 0) as a Message."""
    choice = completion.choices[0] if completion.choices else None
    content: list[dict[str, Any]] = []
    stop = "end_turn"
    if choice is not None:
        message = choice.message
        if message.reasoning_content:
            content.append(
                {"type": "thinking", "thinking": message.reasoning_content, "signature": ""}
            )
        text = message.content or message.refusal
        if text:
            content.append({"type": "text", "text": text})
        for call in message.tool_calls or ():
            fn = call.function
            content.append(
                {
                    "type": "tool_use",
                    "id": call.id,
                    "name": fn.name,
                    "input": _tool_input(fn.arguments, fn.name),
                }
            )
        stop = FINISH_TO_STOP.get(choice.finish_reason, "end_turn")
    return {
        "id": _message_id(completion.id),
        "type": "message",
        "role": "assistant",
        "model": completion.model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": _usage(completion.usage),
    }


class MessageEvents:
    """One streamed answer's chunks -> the Messages stream's events, in order.

    ``start`` gives ``message_start`` and a ``ping``; ``feed`` each chunk's
    ``content_block_start`` / ``content_block_delta`` / ``content_block_stop`` (thinking,
    text and tool_use blocks, one open at a time, as Anthropic sends them); ``end`` the last
    block's stop, ``message_delta`` (stop_reason, usage) and ``message_stop``. Each event is
    a dict whose ``type`` is also its SSE event name. Choice 0 only (Messages has no ``n``).
    """

    __slots__ = ("_blocks", "_calls", "_open", "_stop", "_usage")

    def __init__(self) -> None:
        self._blocks = 0  # content blocks started so far
        self._open: tuple[str, int] | None = None  # (kind, block index) of the open block
        self._calls: dict[int, int] = {}  # OpenAI tool-call index -> its block index
        self._stop: str | None = None
        self._usage: CompletionUsage | None = None

    def start(self, first: ChatCompletionChunk) -> list[dict[str, Any]]:
        message: dict[str, Any] = {
            "id": _message_id(first.id),
            "type": "message",
            "role": "assistant",
            "model": first.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            # Known only at the end of an OpenAI-shaped stream: message_delta repeats it.
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return [{"type": "message_start", "message": message}, {"type": "ping"}]

    def _close(self, out: list[dict[str, Any]]) -> None:
        if self._open is not None:
            out.append({"type": "content_block_stop", "index": self._open[1]})
            self._open = None

    def _begin(self, kind: str, block: dict[str, Any], out: list[dict[str, Any]]) -> int:
        self._close(out)
        index = self._blocks
        self._blocks += 1
        self._open = (kind, index)
        out.append({"type": "content_block_start", "index": index, "content_block": block})
        return index

    def _into(self, kind: str, delta: dict[str, Any], out: list[dict[str, Any]]) -> None:
        if self._open is not None and self._open[0] == kind:
            index = self._open[1]
        elif kind == "thinking":
            index = self._begin(kind, {"type": "thinking", "thinking": "", "signature": ""}, out)
        else:
            index = self._begin(kind, {"type": "text", "text": ""}, out)
        out.append({"type": "content_block_delta", "index": index, "delta": delta})

    def feed(self, chunk: ChatCompletionChunk) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if chunk.usage is not None:
            self._usage = chunk.usage
        for choice in chunk.choices:
            if choice.index != 0:
                continue
            delta = choice.delta
            if delta.reasoning_content:
                self._into(
                    "thinking", {"type": "thinking_delta", "thinking": delta.reasoning_content}, out
                )
            text = delta.content or delta.refusal
            if text:
                self._into("text", {"type": "text_delta", "text": text}, out)
            for call in delta.tool_calls or ():
                fn = call.function
                index = self._calls.get(call.index)
                if index is None:
                    block = {
                        "type": "tool_use",
                        "id": call.id or f"toolu_{call.index}",
                        "name": (fn.name if fn is not None else None) or "",
                        "input": {},
                    }
                    index = self._begin("tool_use", block, out)
                    self._calls[call.index] = index
                if fn is not None and fn.arguments:
                    out.append(
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": "input_json_delta", "partial_json": fn.arguments},
                        }
                    )
            if choice.finish_reason is not None:
                self._stop = FINISH_TO_STOP.get(choice.finish_reason, "end_turn")
        return out

    def end(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        self._close(out)
        out.append(
            {
                "type": "message_delta",
                "delta": {"stop_reason": self._stop or "end_turn", "stop_sequence": None},
                "usage": _usage(self._usage),
            }
        )
        out.append({"type": "message_stop"})
        return out
