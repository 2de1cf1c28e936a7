"""Ollama's native API: ``POST /api/chat`` (NDJSON stream or one JSON object), ``GET /api/tags``.

Where it departs from OpenAI (Ollama's docs/api.md): images are base64 strings in the
message's ``images`` (URLs are downloaded under the guard of fetch_image.py); tool-call
arguments are JSON objects and calls carry no ids (polymux makes them); tool results name
the tool (``tool_name``); sampling parameters live in ``options`` (``num_predict`` is the
token cap); ``format`` is ``"json"`` or a JSON Schema; the stream ends with a ``done: true``
line carrying ``done_reason`` and the token counts. Errors are ``{"error": "text"}``.

The server is ``base_url``, else ``OLLAMA_HOST`` (read as Ollama reads it: ``host``,
``host:port``, ``:port`` or a full URL), else ``http://127.0.0.1:11434``. No key is needed;
``OLLAMA_API_KEY`` is sent as a Bearer token when set (Ollama's hosted models).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import orjson

from ..errors import (
    APIResponseValidationError,
    ConfigurationError,
    InvalidRequestError,
    UnsupportedCapabilityError,
)
from ..transport.base import HttpRequest, require_transport
from ..transport.errors import embedded_error
from ..transport.ndjson import NDJSONDecoder
from ..transport.redact import quoted
from ..types.embeddings import EmbeddingBatch, EmbeddingRequest
from ..types.events import ChatEvent, Finish, FinishReason, ReasoningDelta, ResponseInfo, Usage
from ..types.events import ToolCallDelta as ToolCall
from ..types.request import CallOptions, ChatRequest, ImageRef, Message, ModelsRequest
from .base import MAX_MODEL_LIST_BYTES, Capabilities, Provider
from .fetch_image import inline_image
from .openai_shape import tool_call_arguments

__all__ = ["DEFAULT_HOST", "Ollama", "parse_host"]

DEFAULT_HOST = "http://127.0.0.1:11434"
_DEFAULT_PORT = 11434

# done_reason -> OpenAI's finish_reason ("load"/"unload" end requests that only (un)load a
# model). "stop" becomes "tool_calls" in the fold when the answer called tools.
_FINISH: dict[str, FinishReason] = {"stop": "stop", "length": "length"}

# Request fields that map one to one onto Ollama's ``options``.
_OPTIONS = (
    ("temperature", "temperature"),
    ("top_p", "top_p"),
    ("seed", "seed"),
    ("stop", "stop"),
    ("presence_penalty", "presence_penalty"),
    ("frequency_penalty", "frequency_penalty"),
)


def parse_host(value: str | None) -> str:
    """``OLLAMA_HOST`` -> a base URL, accepting what Ollama accepts: ``host``, ``host:port``,
    ``:port``, ``[v6]:port`` or ``scheme://host[:port][/path]``. A bind-everything address
    (``0.0.0.0``, ``::``) means this machine, since users set it to make the server listen."""
    value = (value or "").strip()
    if not value:
        return DEFAULT_HOST
    has_scheme = "://" in value
    parts = urlsplit(value if has_scheme else f"http://{value}")
    scheme = parts.scheme if has_scheme else "http"
    if scheme not in ("http", "https"):
        raise ConfigurationError(f"OLLAMA_HOST must be an http(s) address, got {value!r}")
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError(f"OLLAMA_HOST has an invalid port: {value!r}") from exc
    if port is None:
        port = {"http": 80, "https": 443}[scheme] if has_scheme else _DEFAULT_PORT
    host = parts.hostname or "127.0.0.1"
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    path = parts.path.rstrip("/")
    return f"{scheme}://{host}:{port}{path}"


def _text_of(content: Any, where: str) -> tuple[str, list[ImageRef]]:
    """A message's content -> (its text, its images)."""
    if content is None:
        return "", []
    if isinstance(content, str):
        return content, []
    texts: list[str] = []
    images: list[ImageRef] = []
    for part in content:
        kind = part.get("type")
        if kind == "text":
            texts.append(part["text"])
        elif kind == "image_url":
            images.append(ImageRef.parse(part["image_url"]["url"]))
        elif kind == "refusal":
            texts.append(part.get("refusal") or "")
        else:
            raise UnsupportedCapabilityError(f"Ollama does not accept {kind} content ({where})")
    return "\n".join(texts), images


class _Translation:
    """One request's messages in Ollama's shape; the images to inline, by position."""

    def __init__(self, messages: Sequence[Message]) -> None:
        self.messages: list[dict[str, Any]] = []
        self.images: list[tuple[int, ImageRef]] = []
        names: dict[str, str] = {}  # tool_call_id -> tool name, for tool_name
        for i, message in enumerate(messages):
            role = message["role"]
            text, images = _text_of(message.get("content"), f"messages[{i}]")
            out: dict[str, Any] = {"role": role, "content": text}
            if role == "developer":
                out["role"] = "system"
            elif role == "function":  # OpenAI's legacy tool result
                out["role"] = "tool"
                out["tool_name"] = message.get("name", "")
            elif role == "tool":
                call_id = str(message.get("tool_call_id", ""))
                out["tool_call_id"] = call_id
                out["tool_name"] = names.get(call_id) or message.get("name") or ""
            for call in message.get("tool_calls") or ():
                fn = call.get("function") or {}
                names[str(call.get("id", ""))] = fn.get("name", "")
                wire: dict[str, Any] = {
                    "function": {
                        "name": fn.get("name", ""),
                        "arguments": tool_call_arguments(call, "Ollama"),
                    }
                }
                if call.get("id"):
                    wire["id"] = call["id"]
                out.setdefault("tool_calls", []).append(wire)
            if images:
                if role != "user":
                    raise InvalidRequestError(f"messages[{i}]: only user messages carry images")
                self.images.extend((len(self.messages), ref) for ref in images)
            self.messages.append(out)

    async def inline(self, request: ChatRequest) -> list[dict[str, Any]]:
        """The messages with every image as base64, URLs downloaded concurrently."""
        if not self.images:
            return self.messages
        refs = await asyncio.gather(*(inline_image(ref, request) for _, ref in self.images))
        for (position, _), ref in zip(self.images, refs):
            self.messages[position].setdefault("images", []).append(ref.base64())
        return self.messages


def _format(response_format: Mapping[str, Any] | None) -> Any:
    if not response_format:
        return None
    if response_format.get("type") == "json_schema":
        return response_format["json_schema"]["schema"]
    return "json" if response_format.get("type") == "json_object" else None


def _think(effort: str | None) -> Any:
    # Ollama's ``think`` is a bool, or a level for models that have levels (gpt-oss).
    if effort is None:
        return None
    return False if effort in ("none", "minimal") else effort


async def build_body(request: ChatRequest, *, stream: bool) -> dict[str, Any]:
    """The JSON body of ``POST /api/chat`` for this request (downloads URL images)."""
    messages = await _Translation(request.messages).inline(request)
    body: dict[str, Any] = {"model": request.model, "messages": messages, "stream": stream}
    options: dict[str, Any] = {}
    for ours, theirs in _OPTIONS:
        value = getattr(request, ours)
        if value is not None:
            options[theirs] = value
    if request.token_limit is not None:
        options["num_predict"] = request.token_limit
    if request.tools and request.tool_choice != "none":
        if request.tool_choice not in (None, "auto"):
            raise UnsupportedCapabilityError(
                f"Ollama cannot force a tool call (tool_choice={request.tool_choice!r}); "
                'use tool_choice="auto" or a provider that supports it'
            )
        body["tools"] = request.tools
    fmt = _format(request.response_format)
    if fmt is not None:
        body["format"] = fmt
    think = _think(request.reasoning_effort)
    if think is not None:
        body["think"] = think
    extra = dict(request.extra_body)
    options.update(extra.pop("options", None) or {})  # extra options merge, not replace
    if options:
        body["options"] = options
    body.update(extra)
    return body


class _Reader:
    """Ollama's response objects -> events. Each line is one object; the last says done."""

    __slots__ = ("calls", "done", "provider", "started")

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.started = False
        self.done = False
        self.calls = 0

    def events(self, line: Any) -> Iterator[ChatEvent]:
        if not isinstance(line, dict):
            raise APIResponseValidationError(
                f"expected a JSON object per line, got {quoted(str(line), 80)}",
                provider=self.provider,
            )
        if "error" in line:
            error = embedded_error(line, self.provider)
            if error is not None:
                raise error
        if not self.started:
            self.started = True
            yield ResponseInfo(model=line.get("model"))
        message = line.get("message") or {}
        thinking = message.get("thinking")
        if thinking:
            yield ReasoningDelta(thinking)
        content = message.get("content")
        if content:
            yield content
        for call in message.get("tool_calls") or ():
            fn = call.get("function") or {}
            args = fn.get("arguments")
            yield ToolCall(
                self.calls,
                call.get("id") or f"call_{uuid.uuid4().hex[:24]}",
                fn.get("name") or "",
                args if isinstance(args, str) else orjson.dumps(args or {}).decode(),
            )
            self.calls += 1
        if line.get("done"):
            self.done = True
            # Counts are omitted when zero (a cached prompt has no prompt_eval_count).
            yield Usage(int(line.get("prompt_eval_count") or 0), int(line.get("eval_count") or 0))
            yield Finish(_FINISH.get(line.get("done_reason") or "stop", "stop"))


class Ollama(Provider):
    """A local (or remote) Ollama server through its native API. No key needed."""

    name = "ollama"
    capabilities = Capabilities(vision=True, tools=True, json_schema=True, json_object=True)
    api_key_env = ("OLLAMA_API_KEY",)
    requires_api_key = False
    default_model = "llama3.2"
    # Data for "is it usable here": a local server, moved with OLLAMA_HOST (parsed the way the
    # ollama CLI reads it, in ``root``).
    default_base_url = DEFAULT_HOST
    base_url_env = "OLLAMA_HOST"

    @property
    def root(self) -> str:
        if self.base_url:
            url = self.base_url.rstrip("/")
            return url[: -len("/api")] if url.endswith("/api") else url
        return parse_host(os.environ.get(self.base_url_env or ""))

    def _http(self, method: str, path: str, options: CallOptions, body: Any = None) -> HttpRequest:
        headers = {"Accept": "application/json", **self.default_headers}
        key = self.api_key
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return HttpRequest(
            method=method,
            url=f"{self.root}{path}",
            headers=headers,
            json=body,
            options=options,
            provider=self.name,
        )

    async def stream_chat(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        body = await build_body(request, stream=True)
        reader = _Reader(self.name)
        decoder = NDJSONDecoder()
        http = self._http("POST", "/api/chat", request.options, body)
        async with require_transport(request.options.transport).stream(http) as resp:
            async for piece in resp.iter_bytes():
                for line in decoder.feed(piece):
                    for event in reader.events(line):
                        yield event
                    if reader.done:
                        return
            for line in decoder.close():
                for event in reader.events(line):
                    yield event
        if not reader.done:
            raise APIResponseValidationError(
                "the stream ended without its done line: the answer may be cut short",
                provider=self.name,
            )

    async def complete_chat(self, request: ChatRequest) -> Sequence[ChatEvent]:
        body = await build_body(request, stream=False)
        http = self._http("POST", "/api/chat", request.options, body)
        payload = (await require_transport(request.options.transport).request(http)).json()
        reader = _Reader(self.name)
        events = list(reader.events(payload))
        if not reader.done:
            raise APIResponseValidationError(
                "expected a finished chat response (done: true)", provider=self.name
            )
        return events

    async def embed(self, request: EmbeddingRequest) -> EmbeddingBatch:
        """``POST /api/embed`` (inputs longer than the model's context are cut, Ollama's
        default); ``dimensions`` passes through; ``extra_body`` adds fields (``options``,
        ``keep_alive``, ``truncate``)."""
        if request.tokens:
            raise InvalidRequestError(f"{self.name} embeds text only; pass strings")
        body: dict[str, Any] = {"model": request.model, "input": request.inputs}
        if request.dimensions is not None:
            body["dimensions"] = request.dimensions
        body.update(request.extra_body)
        http = self._http("POST", "/api/embed", request.options, body)
        payload = (await require_transport(request.options.transport).request(http)).json()
        error = embedded_error(payload, self.name)
        if error is not None:
            raise error
        vectors = payload.get("embeddings") if isinstance(payload, dict) else None
        if (
            not isinstance(vectors, list)
            or len(vectors) != len(request.inputs)
            or not all(isinstance(v, list) for v in vectors)
        ):
            raise APIResponseValidationError(
                f"expected {len(request.inputs)} embeddings", provider=self.name
            )
        tokens = payload.get("prompt_eval_count")
        return EmbeddingBatch(
            vectors=vectors,
            prompt_tokens=tokens if type(tokens) is int else None,
            model=request.model,
        )

    async def list_models(self, request: ModelsRequest) -> list[str]:
        http = self._http("GET", "/api/tags", request.options)
        response = await require_transport(request.options.transport).request(
            http, max_bytes=MAX_MODEL_LIST_BYTES
        )
        payload = response.json()
        models = payload.get("models") if isinstance(payload, dict) else None
        if not isinstance(models, list):
            raise APIResponseValidationError("expected {'models': [...]}", provider=self.name)
        return [
            str(m.get("name") or m.get("model"))
            for m in models
            if isinstance(m, dict) and (m.get("name") or m.get("model"))
        ]
