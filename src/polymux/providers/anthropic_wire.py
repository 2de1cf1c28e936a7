"""The Anthropic Messages dialect, requests: OpenAI-shaped ``ChatRequest`` -> the JSON body of
``POST /v1/messages``. Pure functions; answers are translated in anthropic_stream.py.

How models differ is data (``ModelRule`` rows), never branches on model names in code.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..dialects.anthropic import (
    ANTHROPIC_VERSION,
    IMAGE_TYPES,
    THINKING_BUDGET,
    anthropic_tool_choice,
)
from ..errors import InvalidRequestError, UnsupportedCapabilityError
from ..types.request import ChatRequest, ImageRef
from .openai_shape import WEB_SEARCH, extra_fields, merge_turns, tool_call_arguments

__all__ = [
    "ANTHROPIC_VERSION",
    "MODEL_RULES",
    "RESPONSE_TOOL",
    "ModelRule",
    "build_messages_body",
    "response_tool",
    "rule_for",
]

log = logging.getLogger("polymux.providers.anthropic")

#: Name of the tool that carries a json_object / json_schema answer (Anthropic's basic API has
#: no JSON mode, so the answer is forced through a tool whose input is the JSON).
RESPONSE_TOOL = "json_response"

_SAMPLING = ("temperature", "top_p", "top_k")


@dataclass(frozen=True, slots=True)
class ModelRule:
    """How one Claude model family departs from the plain Messages API. Data, not code."""

    #: Model ids starting with this prefix follow the rule (the longest match wins).
    prefix: str
    #: ``max_tokens`` sent when the caller gives none (the API requires one).
    default_max_tokens: int
    #: Sampling parameters the model rejects with a 400; dropped before sending.
    drop_params: frozenset[str] = frozenset()
    #: The model rejects ``temperature`` and ``top_p`` together: keep only ``temperature``.
    exclusive_sampling: bool = False


# Defaults: the family's documented maximum output where that is small (Claude 3: 4096,
# Claude 3.5: 8192), 8192 for Opus 4/4.1 (the official SDK refuses more without streaming),
# and 16384 for newer families whose maximum is 32k-64k: enough for long answers, below the
# official SDK's non-streaming ceiling (21,333, its 10-minute estimate), and modest for the
# output-tokens-per-minute limit, which Anthropic first estimates from max_tokens.
# Sampling: 4.1/4.5-era models reject temperature with top_p; Opus 4.7+ and 5-series models
# reject sampling parameters altogether (each model's notes in Anthropic's models overview).
_NO_SAMPLING = frozenset(_SAMPLING)
MODEL_RULES: tuple[ModelRule, ...] = (
    ModelRule("", 4096),  # anything else (an Anthropic-compatible host's own model)
    ModelRule("claude-", 16384),
    ModelRule("claude-3-", 4096),
    ModelRule("claude-3-5-", 8192),
    ModelRule("claude-3-7-", 16384),
    ModelRule("claude-opus-4-0", 8192),
    ModelRule("claude-opus-4-2025", 8192),
    ModelRule("claude-4-opus", 8192),
    ModelRule("claude-opus-4-1", 8192, exclusive_sampling=True),
    ModelRule("claude-opus-4-5", 16384, exclusive_sampling=True),
    ModelRule("claude-opus-4-6", 16384, exclusive_sampling=True),
    ModelRule("claude-sonnet-4-5", 16384, exclusive_sampling=True),
    ModelRule("claude-sonnet-4-6", 16384, exclusive_sampling=True),
    ModelRule("claude-haiku-4-5", 16384, exclusive_sampling=True),
    ModelRule("claude-opus-4-7", 16384, drop_params=_NO_SAMPLING),
    ModelRule("claude-opus-4-8", 16384, drop_params=_NO_SAMPLING),
    ModelRule("claude-opus-5", 16384, drop_params=_NO_SAMPLING),
    ModelRule("claude-sonnet-5", 16384, drop_params=_NO_SAMPLING),
    ModelRule("claude-haiku-5", 16384, drop_params=_NO_SAMPLING),
)


def rule_for(model: str, rules: Sequence[ModelRule] = MODEL_RULES) -> ModelRule:
    """The rule of the longest prefix that ``model`` starts with."""
    best = rules[0]
    for rule in rules:
        if model.startswith(rule.prefix) and len(rule.prefix) > len(best.prefix):
            best = rule
    return best


# -- request -----------------------------------------------------------------------------------
def _image_block(url: str) -> dict[str, Any]:
    ref = ImageRef.parse(url)
    if ref.is_remote:
        return {"type": "image", "source": {"type": "url", "url": ref.url}}
    media_type = ref.media_type or ""
    if media_type not in IMAGE_TYPES:
        raise UnsupportedCapabilityError(
            f"Anthropic accepts JPEG, PNG, GIF and WebP images, not {media_type or 'this type'}"
        )
    return {
        "type": "image",
        "source": {"type": "base64", "media_type": media_type, "data": ref.base64()},
    }


def _blocks(content: Any) -> list[dict[str, Any]]:
    """OpenAI content (a string or parts) -> Anthropic content blocks (empty text left out)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for part in content or ():
        kind = part.get("type")
        if kind in ("text", "refusal"):
            text = part.get("text") or part.get("refusal") or ""
            if text:
                blocks.append({"type": "text", "text": text})
        elif kind == "image_url":
            blocks.append(_image_block(part["image_url"]["url"]))
        else:
            raise UnsupportedCapabilityError(f"Anthropic provider does not accept {kind} parts")
    return blocks


def _tool_use(call: Mapping[str, Any]) -> dict[str, Any]:
    arguments = tool_call_arguments(call, "Anthropic")
    fn = call.get("function") or {}
    return {"type": "tool_use", "id": call.get("id"), "name": fn.get("name"), "input": arguments}


def _tool_result(message: Mapping[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": message["tool_call_id"]}
    block["content"] = content if isinstance(content, str) else _blocks(content)
    return block


def _messages(
    request: ChatRequest, thinking: Mapping[str, list[dict[str, Any]]]
) -> tuple[list[str], list[dict[str, Any]]]:
    """(system texts, Anthropic messages) with consecutive same-role turns merged.
    ``thinking``: tool-call id -> the signed thinking blocks that led to that call."""

    def turn(index: int, message: Mapping[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        role = message.get("role")
        if role == "assistant":
            calls = message.get("tool_calls") or ()
            # Thinking blocks come first, verbatim: the API checks their signatures.
            signed = next((thinking[c["id"]] for c in calls if c.get("id") in thinking), [])
            blocks = [*signed, *_blocks(message.get("content"))]
            return "assistant", blocks + [_tool_use(c) for c in calls]
        if role == "tool":
            return "user", [_tool_result(message)]
        if role == "user":
            return "user", _blocks(message.get("content"))
        raise UnsupportedCapabilityError(f"Anthropic provider does not accept {role} messages")

    system, out = merge_turns(request.messages, turn, "content")
    if out and out[-1]["role"] == "assistant":
        # A prefill may not end with whitespace (the API answers 400).
        last = out[-1]["content"][-1]
        if last.get("type") == "text":
            last["text"] = last["text"].rstrip()
    return system, out


def _tools(request: ChatRequest) -> list[dict[str, Any]]:
    tools = []
    for tool in request.tools or ():
        fn = tool["function"]
        out: dict[str, Any] = {
            "name": fn["name"],
            "input_schema": fn.get("parameters") or {"type": "object", "properties": {}},
        }
        if fn.get("description"):
            out["description"] = fn["description"]
        tools.append(out)
    return tools


def response_tool(fmt: Mapping[str, Any]) -> dict[str, Any]:
    """The tool whose input carries a json_object / json_schema answer (Bedrock's Converse
    forces one the same way)."""
    if fmt["type"] == "json_schema":
        spec = fmt["json_schema"]
        schema = dict(spec["schema"])
        if schema.get("type") != "object":
            raise UnsupportedCapabilityError(
                "Anthropic structured output goes through a tool, whose input must be a JSON "
                "object: give the json_schema an object at its root"
            )
        description = spec.get("description") or f"Give the answer as {spec.get('name', 'JSON')}."
    else:
        schema = {"type": "object"}
        description = "Give the answer as a JSON object."
    return {"name": RESPONSE_TOOL, "description": description, "input_schema": schema}


def _web_search_tool(options: Any) -> dict[str, Any]:
    """Anthropic's web search server tool for Chat Completions' ``web_search_options``."""
    tool: dict[str, Any] = {"type": "web_search_20250305", "name": "web_search"}
    location = options.get("user_location") if isinstance(options, Mapping) else None
    approximate = location.get("approximate") if isinstance(location, Mapping) else None
    if isinstance(approximate, Mapping):
        tool["user_location"] = {"type": "approximate", **approximate}
    return tool


def build_messages_body(
    request: ChatRequest,
    *,
    stream: bool,
    rules: Sequence[ModelRule] = MODEL_RULES,
    thinking: Mapping[str, list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """The JSON body of ``POST /v1/messages`` for this request. ``thinking``: the signed
    thinking blocks behind earlier tool calls, by tool-call id, sent back with those calls
    when this request thinks too."""
    rule = rule_for(request.model, rules)
    extra = request.extra_body.get("thinking")
    thinks = THINKING_BUDGET.get(request.reasoning_effort or "", 0) or (
        isinstance(extra, Mapping) and extra.get("type") == "enabled"
    )
    system, messages = _messages(request, thinking if thinking and thinks else {})
    if not messages:
        raise InvalidRequestError("Anthropic needs at least one user or assistant message")
    body: dict[str, Any] = {"model": request.model, "messages": messages}
    if system:
        body["system"] = "\n\n".join(system)
    limit = request.token_limit
    body["max_tokens"] = limit if limit is not None else rule.default_max_tokens
    if request.stop:
        body["stop_sequences"] = list(request.stop)
    if request.temperature is not None:
        body["temperature"] = min(request.temperature, 1.0)  # Anthropic's range is 0-1
    if request.top_p is not None and not (rule.exclusive_sampling and "temperature" in body):
        body["top_p"] = request.top_p
    effort = request.reasoning_effort
    if effort is not None:
        budget = THINKING_BUDGET.get(effort)
        if budget is None:
            raise InvalidRequestError(
                f"reasoning_effort must be one of {', '.join(THINKING_BUDGET)}, got {effort!r}"
            )
        if not budget:
            body["thinking"] = {"type": "disabled"}
        else:
            body["thinking"] = {"type": "enabled", "budget_tokens": budget}
            if limit is None:
                body["max_tokens"] = budget + rule.default_max_tokens
            elif limit <= budget:
                raise InvalidRequestError(
                    f"reasoning_effort={effort!r} thinks for up to {budget} tokens; "
                    f"max_tokens must be larger, got {limit}"
                )
            # Extended thinking accepts no temperature/top_k changes.
            body.pop("temperature", None)
    if request.user:
        body["metadata"] = {"user_id": request.user}
    tools = _tools(request)
    choice = anthropic_tool_choice(request.tool_choice, request.parallel_tool_calls)
    fmt = request.response_format
    if fmt is not None:
        tools.append(response_tool(fmt))
        if len(tools) == 1 or request.tool_choice == "none":
            choice = {"type": "tool", "name": RESPONSE_TOOL}
        elif choice is None or choice["type"] == "auto":
            # The caller's tools stay callable; a final answer must come through the JSON tool.
            choice = {"type": "any"}
    search = request.extra_body.get(WEB_SEARCH)
    if search is not None:
        tools.append(_web_search_tool(search))
    if tools:
        body["tools"] = tools
    if choice is not None:
        body["tool_choice"] = choice
    for name in rule.drop_params:
        body.pop(name, None)
    if stream:
        body["stream"] = True
    for name in ("seed", "presence_penalty", "frequency_penalty"):
        if getattr(request, name) is not None:
            log.debug("Anthropic has no %s; not sent", name)
    body.update(extra_fields(request.extra_body))
    return body
