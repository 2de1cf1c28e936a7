"""Caller input -> typed requests. Every check of what a caller passed lives here, and
runs before any provider is called, so bad input fails fast with a message that says how to
fix it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import partial
from typing import Any, TypedDict

from ..errors import InvalidRequestError
from ..types.request import CallOptions, ChatRequest, ImageRequest, Message, Timeout
from .vision import attach_images, normalize_image_part

__all__ = [
    "CHAT_KEYS",
    "ChatParams",
    "ImageParams",
    "build_chat_request",
    "build_image_request",
    "build_options",
]

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
#: Roles whose message needs nothing but string content.
_TEXT_ROLES = frozenset({"system", "developer", "user", "assistant"})
_PART_TYPES = frozenset({"text", "image_url", "input_audio", "file", "refusal"})
_NOT_GIVEN: Any = object()


class ChatParams(TypedDict, total=False):
    """The optional parameters of ``chat.completions.create``, shared by both clients."""

    provider: Any
    image: Any
    images: Sequence[Any]
    temperature: float | None
    top_p: float | None
    max_tokens: int | None
    max_completion_tokens: int | None
    stop: str | Sequence[str] | None
    n: int | None
    seed: int | None
    presence_penalty: float | None
    frequency_penalty: float | None
    response_format: Any
    tools: Sequence[Mapping[str, Any]] | None
    tool_choice: str | Mapping[str, Any] | None
    parallel_tool_calls: bool | None
    stream_options: Mapping[str, Any] | None
    user: str | None
    reasoning_effort: str | None
    extra_body: Mapping[str, Any] | None
    extra_headers: Mapping[str, str] | None
    timeout: float | Timeout | None
    max_retries: int | None
    proxy: str | None


class ImageParams(TypedDict, total=False):
    """The optional parameters of ``images.generate``, shared by both clients."""

    provider: Any
    n: int
    size: str | None
    quality: str | None
    style: str | None
    response_format: str
    user: str | None
    # The openai SDK's other image fields (gpt-image): sent as given, in the request body.
    background: str | None
    moderation: str | None
    output_compression: int | None
    output_format: str | None
    input_fidelity: str | None  # edits only
    save_to: Any
    extra_body: Mapping[str, Any] | None
    extra_headers: Mapping[str, str] | None
    timeout: float | Timeout | None
    max_retries: int | None
    proxy: str | None


_CHAT_KEYS = CHAT_KEYS = frozenset(ChatParams.__annotations__)
_IMAGE_KEYS = frozenset(ImageParams.__annotations__)
_IMAGE_BODY_FIELDS = (
    "background",
    "moderation",
    "output_compression",
    "output_format",
    "input_fidelity",
)


def _check_keys(given: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise TypeError(
            f"{where}() got unexpected keyword argument(s) {', '.join(map(repr, unknown))}. "
            "Pass provider-specific fields in extra_body={...}."
        )


def _number(name: str, value: Any, lo: float | None = None, hi: float | None = None) -> Any:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidRequestError(f"{name} must be a number, got {type(value).__name__}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise InvalidRequestError(f"{name} must be between {lo} and {hi}, got {value}")
    return value


def _integer(name: str, value: Any, lo: int = 1) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequestError(f"{name} must be an integer, got {type(value).__name__}")
    if value < lo:
        raise InvalidRequestError(f"{name} must be at least {lo}, got {value}")
    return value


def _count(name: str, value: Any) -> int:
    return _integer(name, value, lo=0) or 0


def _as_dict(message: Any, i: int) -> dict[str, Any]:
    if isinstance(message, Mapping):
        return dict(message)
    dump = getattr(message, "model_dump", None)  # our records, openai's or pydantic objects
    if callable(dump):
        data = dump(exclude_none=True)
        if isinstance(data, dict):
            data = dict(data)
            for extra in ("reasoning_content", "parsed", "annotations", "audio", "refusal"):
                data.pop(extra, None)
            return data
    raise InvalidRequestError(
        f"messages[{i}] is a {type(message).__name__}; each message must be a dict like "
        '{"role": "user", "content": "Hello"}'
    )


def normalize_messages(messages: Any) -> list[Message]:
    """Checked, copied messages in the OpenAI shape. A plain string is one user message."""
    if isinstance(messages, str):
        if not messages:
            raise InvalidRequestError("messages is an empty string; say something")
        return [{"role": "user", "content": messages}]
    if type(messages) is not list and (
        not isinstance(messages, Sequence) or isinstance(messages, (bytes, bytearray))
    ):
        raise InvalidRequestError(
            f"messages must be a list of message dicts or a string, got {type(messages).__name__}"
        )
    if not messages:
        raise InvalidRequestError("messages is empty; pass at least one message")
    out: list[Message] = []
    for i, raw in enumerate(messages):
        message = raw.copy() if type(raw) is dict else _as_dict(raw, i)
        role = message.get("role")
        if type(role) is str and role in _TEXT_ROLES and type(message.get("content")) is str:
            out.append(message)  # the common message: nothing more to check or change
            continue
        if not isinstance(role, str) or role not in _ROLES:
            raise InvalidRequestError(
                f"messages[{i}] has role {role!r}; use one of {', '.join(sorted(_ROLES))}"
            )
        content = message.get("content")
        if isinstance(content, list):
            message["content"] = [_normalize_part(part, i, j) for j, part in enumerate(content)]
        elif content is None:
            if role == "assistant" and (message.get("tool_calls") or message.get("function_call")):
                pass
            elif role == "assistant":
                message["content"] = ""
            else:
                raise InvalidRequestError(f"messages[{i}] ({role}) has no content")
        elif not isinstance(content, str):
            raise InvalidRequestError(
                f"messages[{i}].content must be a string or a list of content parts, "
                f"got {type(content).__name__}"
            )
        if role == "tool" and not message.get("tool_call_id"):
            raise InvalidRequestError(
                f"messages[{i}] is a tool result without tool_call_id; copy the id of the "
                "assistant's tool call it answers"
            )
        out.append(message)
    return out


def _normalize_part(raw: Any, i: int, j: int) -> dict[str, Any]:
    if isinstance(raw, str):
        return {"type": "text", "text": raw}
    if not isinstance(raw, Mapping) or raw.get("type") not in _PART_TYPES:
        raise InvalidRequestError(
            f"messages[{i}].content[{j}] must be a content part with a type among "
            f"{', '.join(sorted(_PART_TYPES))}"
        )
    part: dict[str, Any] = dict(raw)
    if part["type"] == "image_url":
        try:
            return normalize_image_part(part)
        except InvalidRequestError as exc:
            raise InvalidRequestError(f"messages[{i}].content[{j}]: {exc.message}") from None
    if part["type"] == "text" and not isinstance(part.get("text"), str):
        raise InvalidRequestError(f"messages[{i}].content[{j}] is a text part without text")
    return part


def _response_format(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    schema_of = getattr(value, "model_json_schema", None)
    if isinstance(value, type) and callable(schema_of):
        from ..structured import json_schema_format

        return json_schema_format(value)
    if not isinstance(value, Mapping) or value.get("type") not in (
        "text",
        "json_object",
        "json_schema",
    ):
        raise InvalidRequestError(
            'response_format must be {"type": "json_object"}, {"type": "json_schema", '
            '"json_schema": {...}} or a pydantic model class'
        )
    if value["type"] == "json_schema":
        spec = value.get("json_schema")
        if not isinstance(spec, Mapping) or not isinstance(spec.get("schema"), Mapping):
            raise InvalidRequestError(
                "a json_schema response_format needs "
                '{"json_schema": {"name": ..., "schema": {...}}}'
            )
    return None if value["type"] == "text" else dict(value)


def _tools(tools: Any) -> list[dict[str, Any]] | None:
    if tools is None:
        return None
    if not isinstance(tools, Sequence) or isinstance(tools, str):
        raise InvalidRequestError("tools must be a list of tool dicts")
    out = []
    for i, tool in enumerate(tools):
        fn = tool.get("function") if isinstance(tool, Mapping) else None
        if not isinstance(fn, Mapping) or not isinstance(fn.get("name"), str) or not fn["name"]:
            raise InvalidRequestError(
                f'tools[{i}] must look like {{"type": "function", "function": {{"name": ..., '
                '"parameters": {...}}}}'
            )
        out.append({"type": "function", **dict(tool)})
    return out or None


def _tool_choice(value: Any) -> str | dict[str, Any] | None:
    if value is None or value in ("auto", "none", "required"):
        return value  # type: ignore[no-any-return]
    if isinstance(value, Mapping) and isinstance(value.get("function"), Mapping):
        return dict(value)
    raise InvalidRequestError(
        'tool_choice must be "auto", "none", "required" or {"type": "function", '
        '"function": {"name": ...}}'
    )


def _stop(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value] if value else None
    if isinstance(value, Sequence) and all(isinstance(s, str) for s in value):
        return [s for s in value if s] or None
    raise InvalidRequestError("stop must be a string or a list of strings")


def build_options(
    base: CallOptions, params: Mapping[str, Any], *, extra_headers: Any = None
) -> CallOptions:
    """Per-call options over the client's: only what the call names changes."""
    # timeout=None is a choice (no time limit), as in the OpenAI SDK; only a missing key
    # keeps the client's timeout.
    timeout = params.get("timeout", _NOT_GIVEN)
    retries = params.get("max_retries")
    proxy = params.get("proxy")
    headers = extra_headers if extra_headers is not None else params.get("extra_headers")
    if timeout is _NOT_GIVEN and retries is None and proxy is None and headers is None:
        return base
    return replace(
        base,
        timeout=base.timeout if timeout is _NOT_GIVEN else Timeout.coerce(timeout),
        max_retries=base.max_retries if retries is None else _count("max_retries", retries),
        proxy=proxy or base.proxy,
        extra_headers={**(base.extra_headers or {}), **dict(headers)}
        if headers
        else base.extra_headers,
    )


def _mapping(name: str, example: str) -> Callable[[Any], dict[str, Any] | None]:
    def check(value: Any) -> dict[str, Any] | None:
        if not isinstance(value, Mapping):
            raise InvalidRequestError(f"{name} must be a dict {example}")
        return dict(value) if value else None

    return check


def _flag(name: str) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        if not isinstance(value, bool):
            raise InvalidRequestError(f"{name} must be True or False")
        return value

    return check


def _as_is(value: Any) -> Any:
    return value


# How each optional ``create`` parameter that fills a ChatRequest field of the same name is
# checked. Only the parameters a caller passed are visited (most calls pass none or two).
_CHAT_FIELDS: dict[str, Callable[[Any], Any]] = {
    "temperature": partial(_number, "temperature", lo=0, hi=2),
    "top_p": partial(_number, "top_p", lo=0, hi=1),
    # 0 is a valid limit in OpenAI's API (the spec's minimum); the upstream answers it.
    "max_tokens": partial(_integer, "max_tokens", lo=0),
    "max_completion_tokens": partial(_integer, "max_completion_tokens", lo=0),
    "stop": _stop,
    "n": partial(_integer, "n"),
    "seed": partial(_integer, "seed", lo=-(2**63)),
    "presence_penalty": partial(_number, "presence_penalty", lo=-2, hi=2),
    "frequency_penalty": partial(_number, "frequency_penalty", lo=-2, hi=2),
    "response_format": _response_format,
    "tools": _tools,
    "tool_choice": _tool_choice,
    "parallel_tool_calls": _flag("parallel_tool_calls"),
    "stream_options": _mapping("stream_options", 'like {"include_usage": True}'),
    "user": _as_is,
    "reasoning_effort": _as_is,
    "extra_body": _mapping("extra_body", "of provider-specific fields"),
}


def build_chat_request(
    model: Any, messages: Any, stream: Any, params: Mapping[str, Any], base: CallOptions
) -> ChatRequest:
    """Check everything a caller passed to ``chat.completions.create``; build the request."""
    if params and not _CHAT_KEYS.issuperset(params):
        _check_keys(params, _CHAT_KEYS, "create")
    if model is None:
        model = ""
    if not isinstance(model, str):
        raise InvalidRequestError(f"model must be a string, got {type(model).__name__}")
    if not isinstance(stream, bool):
        raise InvalidRequestError(f"stream must be True or False, got {stream!r}")
    normalized = normalize_messages(messages)
    if not params:  # the common call: model and messages only
        return ChatRequest(model=model, messages=normalized, stream=stream, options=base)
    fields: dict[str, Any] = {}
    for key, value in params.items():
        check = _CHAT_FIELDS.get(key)
        if check is not None and value is not None:
            checked = check(value)
            if checked is not None:
                fields[key] = checked
    if "images" in params or "image" in params:  # the seed's image inputs (rare)
        images: list[Any] = list(params.get("images") or ())
        if params.get("image") is not None:
            images.insert(0, params["image"])
        attach_images(normalized, images)
    options = build_options(base, params)
    return ChatRequest(model=model, messages=normalized, stream=stream, options=options, **fields)


def build_image_request(
    model: Any, prompt: Any, params: Mapping[str, Any], base: CallOptions
) -> ImageRequest:
    """Check everything a caller passed to ``images.generate``; build the request."""
    _check_keys(params, _IMAGE_KEYS, "generate")
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidRequestError("prompt must be a non-empty string")
    if model is None:
        model = ""
    if not isinstance(model, str):
        raise InvalidRequestError(f"model must be a string, got {type(model).__name__}")
    n = _integer("n", params.get("n", 1)) or 1
    if n > 10:
        raise InvalidRequestError(f"n must be at most 10 images per call, got {n}")
    size = params.get("size")
    if size is not None:
        w, sep, h = str(size).lower().partition("x")
        if not (sep and w.isdigit() and h.isdigit()) and size != "auto":
            raise InvalidRequestError(f"size must look like '1024x1024', got {size!r}")
    response_format = params.get("response_format") or "url"
    if response_format != "url" and response_format != "b64_json":
        raise InvalidRequestError(
            f"response_format must be 'url' or 'b64_json', got {response_format!r}"
        )
    extra_body = dict(params.get("extra_body") or {})
    for name in _IMAGE_BODY_FIELDS:
        if params.get(name) is not None:
            extra_body[name] = params[name]
    return ImageRequest(
        model=model,
        prompt=prompt,
        n=n,
        size=None if size == "auto" else size,
        quality=params.get("quality"),
        style=params.get("style"),
        response_format="b64_json" if response_format == "b64_json" else "url",
        user=params.get("user"),
        extra_body=dict(extra_body),
        options=build_options(base, params),
    )
