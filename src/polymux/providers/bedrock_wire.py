"""The AWS Bedrock Converse dialect (``POST /model/{id}/converse`` and ``/converse-stream``):
OpenAI-shaped requests out, events in. Pure functions.

One request shape serves every model family Bedrock runs through Converse (Claude, Llama,
Mistral, Nova, Cohere ...): ``messages`` of content blocks (``text``, ``image``, ``toolUse``,
``toolResult``, ``reasoningContent``), ``system`` blocks, ``inferenceConfig`` and
``toolConfig``. A streamed answer is a sequence of typed events (``messageStart``,
``contentBlockStart`` / ``Delta`` / ``Stop``, ``messageStop``, ``metadata``) in AWS's binary
event-stream framing (transport/eventstream.py); a whole answer replays as those events, so
both share one translation.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from ..dialects.anthropic import THINKING_BUDGET
from ..errors import APIError, InvalidRequestError, UnsupportedCapabilityError, status_error
from ..types.events import (
    ChatEvent,
    Finish,
    FinishReason,
    ReasoningDelta,
    ResponseInfo,
    ToolCallDelta,
    Usage,
)
from ..types.request import ChatRequest, ImageRef
from .anthropic_wire import RESPONSE_TOOL, response_tool
from .openai_shape import effort_budget, merge_turns, tool_call_arguments

__all__ = [
    "EXCEPTION_STATUS",
    "StreamState",
    "build_converse_body",
    "converse_events",
    "exception_error",
]

_STOP: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}

#: A streamed exception's type -> the HTTP status the same failure has outside a stream.
EXCEPTION_STATUS: Mapping[str, int] = {
    "validationException": 400,
    "accessDeniedException": 403,
    "resourceNotFoundException": 404,
    "modelStreamErrorException": 424,
    "throttlingException": 429,
    "internalServerException": 500,
    "serviceUnavailableException": 503,
    "modelNotReadyException": 429,
}

_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/gif": "gif", "image/webp": "webp"}


# -- request -----------------------------------------------------------------------------------
def _image(url: str, images: Mapping[str, ImageRef]) -> dict[str, Any]:
    ref = ImageRef.parse(url)
    if ref.is_remote:
        ref = images.get(url, ref)
    if ref.is_remote:
        raise UnsupportedCapabilityError(
            "Bedrock takes images inline: this image URL must be downloaded first"
        )
    fmt = _FORMATS.get(ref.media_type or "")
    if fmt is None:
        raise UnsupportedCapabilityError(
            f"Bedrock accepts PNG, JPEG, GIF and WebP images, not {ref.media_type or 'this type'}"
        )
    return {"image": {"format": fmt, "source": {"bytes": ref.base64()}}}


def _blocks(content: Any, images: Mapping[str, ImageRef]) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for part in content or ():
        kind = part.get("type")
        if kind in ("text", "refusal"):
            text = part.get("text") or part.get("refusal") or ""
            if text:
                blocks.append({"text": text})
        elif kind == "image_url":
            blocks.append(_image(part["image_url"]["url"], images))
        else:
            raise UnsupportedCapabilityError(f"Bedrock provider does not accept {kind} parts")
    return blocks


def _messages(
    request: ChatRequest,
    images: Mapping[str, ImageRef],
    reasoning: Mapping[str, list[dict[str, Any]]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(system blocks, messages), consecutive same-role turns merged (Converse wants them to
    alternate). ``reasoning``: tool-call id -> the signed reasoning blocks behind that call."""

    def turn(index: int, message: Mapping[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        role = message.get("role")
        if role == "assistant":
            calls = message.get("tool_calls") or ()
            signed = next((reasoning[c["id"]] for c in calls if c.get("id") in reasoning), [])
            blocks = [*signed, *_blocks(message.get("content"), images)]
            for call in calls:
                fn = call.get("function") or {}
                use = {
                    "toolUseId": call.get("id"),
                    "name": fn.get("name"),
                    "input": tool_call_arguments(call, "Bedrock"),
                }
                blocks.append({"toolUse": use})
            return "assistant", blocks
        if role == "tool":
            content = message.get("content")
            result = (
                [{"text": content}]
                if isinstance(content, str)
                else _blocks(content, images) or [{"text": ""}]
            )
            return "user", [
                {"toolResult": {"toolUseId": message["tool_call_id"], "content": result}}
            ]
        if role == "user":
            return "user", _blocks(message.get("content"), images)
        raise UnsupportedCapabilityError(f"Bedrock provider does not accept {role} messages")

    system, messages = merge_turns(request.messages, turn, "content")
    return [{"text": text} for text in system], messages


def _tool_spec(name: str, description: str | None, schema: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": name}
    if description:
        spec["description"] = description
    spec["inputSchema"] = {"json": schema or {"type": "object", "properties": {}}}
    return {"toolSpec": spec}


def _tool_config(request: ChatRequest) -> dict[str, Any] | None:
    """Tools and the tool choice. A response_format is answered through a forced tool whose
    input is the JSON, as for Anthropic (Converse has no JSON mode)."""
    tools = [
        _tool_spec(t["function"]["name"], t["function"].get("description"),
                   t["function"].get("parameters"))
        for t in request.tools or ()
    ]  # fmt: skip
    fmt = request.response_format
    if fmt is not None:
        forced = response_tool(fmt)
        tools.append(_tool_spec(forced["name"], forced["description"], forced["input_schema"]))
    choice = request.tool_choice
    if not tools or (choice == "none" and fmt is None and not _uses_tools(request)):
        return None  # "none" has no Converse form: no tools offered, none can be called
    config: dict[str, Any] = {"tools": tools}
    if fmt is not None and (len(tools) == 1 or choice == "none"):
        config["toolChoice"] = {"tool": {"name": RESPONSE_TOOL}}
    elif fmt is not None and choice in (None, "auto"):
        config["toolChoice"] = {"any": {}}  # the caller's tools, or the answer as JSON
    elif choice == "required":
        config["toolChoice"] = {"any": {}}
    elif choice == "auto":
        config["toolChoice"] = {"auto": {}}
    elif isinstance(choice, Mapping):
        config["toolChoice"] = {"tool": {"name": choice["function"]["name"]}}
    # "none" with tool calls in the history: Converse needs the tools declared to read them
    return config


def _uses_tools(request: ChatRequest) -> bool:
    return any(m.get("tool_calls") or m.get("role") == "tool" for m in request.messages)


def build_converse_body(
    request: ChatRequest,
    *,
    images: Mapping[str, ImageRef] | None = None,
    reasoning: Mapping[str, list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """The JSON body of ``converse`` / ``converse-stream`` (the model is in the URL)."""
    if (request.n or 1) > 1:
        raise UnsupportedCapabilityError("Bedrock answers with one choice: n must be 1")
    system, messages = _messages(request, images or {}, reasoning or {})
    if not messages:
        raise InvalidRequestError("Bedrock needs at least one user or assistant message")
    body: dict[str, Any] = {"messages": messages}
    if system:
        body["system"] = system
    config: dict[str, Any] = {}
    if request.token_limit is not None:
        config["maxTokens"] = request.token_limit
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if request.top_p is not None:
        config["topP"] = request.top_p
    if request.stop:
        config["stopSequences"] = list(request.stop)
    if config:
        body["inferenceConfig"] = config
    tools = _tool_config(request)
    if tools is not None:
        body["toolConfig"] = tools
    effort = request.reasoning_effort
    if effort is not None:
        budget = effort_budget(effort, THINKING_BUDGET)
        # Claude's extended thinking, through the model-specific fields Converse passes on.
        thinking = {"type": "enabled", "budget_tokens": budget} if budget else {"type": "disabled"}
        body["additionalModelRequestFields"] = {"thinking": thinking}
        if budget:
            config.pop("temperature", None)
            config.setdefault("maxTokens", budget + 8192)
            body["inferenceConfig"] = config
    body.update(request.extra_body)
    return body


# -- response ----------------------------------------------------------------------------------
def exception_error(kind: str, payload: bytes, provider: str) -> APIError:
    """The typed error of a streamed exception message (or an HTTP error's type)."""
    try:
        body = orjson.loads(payload) if payload else {}
    except orjson.JSONDecodeError:
        body = {"message": payload[:500].decode("utf-8", "replace")}
    message = (body.get("message") if isinstance(body, dict) else None) or kind
    status = EXCEPTION_STATUS.get(kind)
    if status is None:
        return APIError(f"{kind}: {message}", provider=provider, body=body)
    return status_error(status, f"{kind}: {message}", provider=provider, body=body)


class StreamState:
    """What one answer's translation remembers between events."""

    __slots__ = (
        "blocks",
        "finished",
        "json_tool",
        "provider",
        "reasoning",
        "tool_count",
        "tool_ids",
    )

    def __init__(self, provider: str, *, json_tool: bool = False) -> None:
        self.provider = provider
        #: A response_format was asked for: the RESPONSE_TOOL's input is the answer text.
        self.json_tool = json_tool
        self.blocks: dict[int, tuple[str, int]] = {}  # block index -> (kind, tool call index)
        self.tool_count = 0
        self.tool_ids: list[str] = []
        #: This answer's reasoning blocks (text pieces, signature): sent back with its calls.
        self.reasoning: list[dict[str, Any]] = []
        self.finished = False

    def _reasoning_block(self, index: int) -> dict[str, Any]:
        kind, at = self.blocks.get(index, ("", -1))
        if kind != "reasoning":
            at = len(self.reasoning)
            self.blocks[index] = ("reasoning", at)
            self.reasoning.append({"text": [], "signature": ""})
        return self.reasoning[at]

    def remembered(self) -> dict[str, list[dict[str, Any]]]:
        """The reasoning blocks, as Converse wants them back, by the id of each tool call."""
        if not self.reasoning or not self.tool_ids:
            return {}
        blocks = [
            {
                "reasoningContent": {
                    "reasoningText": {"text": "".join(b["text"]), "signature": b["signature"]}
                }
            }
            for b in self.reasoning
            if b["signature"]
        ]
        return dict.fromkeys(self.tool_ids, blocks) if blocks else {}

    def events(self, kind: str, payload: Mapping[str, Any]) -> Iterator[ChatEvent]:
        """Events of one stream event (``kind`` is its ``:event-type``)."""
        if kind == "contentBlockDelta":
            index = payload.get("contentBlockIndex") or 0
            delta = payload.get("delta") or {}
            if "text" in delta:
                if delta["text"]:
                    yield delta["text"]
            elif "toolUse" in delta:
                piece = (delta.get("toolUse") or {}).get("input") or ""
                kind_, call = self.blocks.get(index, ("", -1))
                if piece and kind_ == "tool":
                    yield ToolCallDelta(call, None, None, piece)
                elif piece and kind_ == "json":
                    yield piece
            elif "reasoningContent" in delta:
                content = delta.get("reasoningContent") or {}
                block = self._reasoning_block(index)
                if content.get("text"):
                    block["text"].append(content["text"])
                    yield ReasoningDelta(content["text"])
                if content.get("signature"):
                    block["signature"] += content["signature"]
        elif kind == "contentBlockStart":
            index = payload.get("contentBlockIndex") or 0
            use = (payload.get("start") or {}).get("toolUse")
            if use and self.json_tool and use.get("name") == RESPONSE_TOOL:
                self.blocks[index] = ("json", -1)
            elif use:
                call = self.tool_count
                self.tool_count += 1
                self.blocks[index] = ("tool", call)
                if use.get("toolUseId"):
                    self.tool_ids.append(str(use["toolUseId"]))
                yield ToolCallDelta(call, use.get("toolUseId"), use.get("name"), "")
        elif kind == "messageStop":
            self.finished = True
            reason = payload.get("stopReason")
            finish = _STOP.get(reason, "stop") if isinstance(reason, str) else "stop"
            if finish == "tool_calls" and self.json_tool and not self.tool_count:
                finish = "stop"  # the only tool used carried the JSON answer
            yield Finish(finish)
        elif kind == "metadata":
            usage = payload.get("usage") or {}
            cached = usage.get("cacheReadInputTokens")
            total = usage.get("totalTokens")
            yield Usage(
                int(usage.get("inputTokens") or 0)
                + int(cached or 0)
                + int(usage.get("cacheWriteInputTokens") or 0),
                int(usage.get("outputTokens") or 0),
                int(cached) if cached is not None else None,
                None,
                int(total) if total else None,
            )
        elif kind == "messageStart":
            yield ResponseInfo()
        # contentBlockStop and newer events: nothing to show


def converse_events(payload: Mapping[str, Any], state: StreamState) -> list[ChatEvent]:
    """Events of a whole Converse answer, through the stream translation."""
    events: list[ChatEvent] = []
    message = (payload.get("output") or {}).get("message") or {}
    for index, block in enumerate(message.get("content") or ()):
        if "text" in block:
            delta: dict[str, Any] = {"text": block["text"]}
        elif "toolUse" in block:
            use = block["toolUse"]
            start = {"toolUse": {"toolUseId": use.get("toolUseId"), "name": use.get("name")}}
            events += state.events(
                "contentBlockStart", {"contentBlockIndex": index, "start": start}
            )
            delta = {"toolUse": {"input": orjson.dumps(use.get("input") or {}).decode()}}
        elif "reasoningContent" in block:
            text = (block["reasoningContent"] or {}).get("reasoningText") or {}
            delta = {"reasoningContent": text}
        else:
            continue
        events += state.events("contentBlockDelta", {"contentBlockIndex": index, "delta": delta})
    events += state.events("messageStop", {"stopReason": payload.get("stopReason")})
    if payload.get("usage"):
        events += state.events("metadata", {"usage": payload["usage"]})
    return events
