"""Anthropic's Messages API (``POST /v1/messages``), natively.

``ANTHROPIC_API_KEY`` (sent as ``x-api-key``), ``ANTHROPIC_BASE_URL`` or ``base_url=`` to point
elsewhere (with or without the ``/v1`` suffix). The translation lives in anthropic_wire.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from functools import cached_property
from typing import Any
from urllib.parse import quote

import orjson

from ..errors import APIResponseValidationError
from ..transport.base import HttpRequest, require_transport
from ..transport.redact import quoted
from ..transport.sse import SSEDecoder, SSEEvent
from ..types.events import ChatEvent
from ..types.request import CallOptions, ChatRequest, ModelsRequest
from .anthropic_stream import StreamState, message_events
from .anthropic_wire import (
    ANTHROPIC_VERSION,
    MODEL_RULES,
    ModelRule,
    build_messages_body,
)
from .base import MAX_MODEL_LIST_BYTES, MAX_MODEL_PAGES, Capabilities, Provider
from .memory import ToolCallMemory

__all__ = ["Anthropic"]

#: Pages of GET /v1/models followed at most (1000 models a page).


class Anthropic(Provider):
    """Claude models through Anthropic's Messages API.

    System and developer messages become ``system``; images, tools, tool results, stop
    sequences and JSON output (through a forced tool) are translated; thinking arrives as
    ``reasoning_content``. ``reasoning_effort`` turns on extended thinking; the signed
    thinking blocks behind a tool call are sent back with that call in the next turn.
    """

    name = "anthropic"
    api_key_env = ("ANTHROPIC_API_KEY",)
    requires_api_key = True
    default_base_url = "https://api.anthropic.com"
    base_url_env = "ANTHROPIC_BASE_URL"
    # Every Claude 3+ model reads images and calls tools; JSON output rides on tool forcing.
    capabilities = Capabilities(vision=True, tools=True, json_schema=True, json_object=True)
    default_model = "claude-sonnet-4-5"
    models: Sequence[str] = (
        "claude-opus-4-1",
        "claude-opus-4-5",
        "claude-sonnet-4-5",
        "claude-sonnet-4-0",
        "claude-haiku-4-5",
        "claude-3-7-sonnet-latest",
        "claude-3-5-haiku-latest",
    )
    #: How model families differ (default max_tokens, rejected sampling parameters).
    model_rules: Sequence[ModelRule] = MODEL_RULES
    api_version = ANTHROPIC_VERSION

    @cached_property
    def _thinking(self) -> ToolCallMemory[list[dict[str, Any]]]:
        """Thinking blocks behind this provider's tool calls, sent back with them (memory.py)."""
        return ToolCallMemory()

    # -- where and how -----------------------------------------------------------------------
    def url(self, path: str) -> str:
        root = self.resolved_base_url or ""
        if root.endswith("/v1"):
            root = root[:-3]
        return f"{root}/v1/{path}"

    def headers(self) -> dict[str, str]:
        return {
            "Accept": "application/json",
            "anthropic-version": self.api_version,
            **self.default_headers,
            "x-api-key": self.require_api_key(),
        }

    def _http(self, method: str, path: str, options: CallOptions, body: Any = None) -> HttpRequest:
        return HttpRequest(
            method=method,
            url=self.url(path),
            headers=self.headers(),
            json=body,
            options=options,
            provider=self.name,
        )

    #: The gateway may pass Messages requests here untranslated (not where the host's API
    #: differs from Anthropic's own, as Vertex AI's does).
    serves_native_messages = True

    def native_request(
        self, path: str, body: Any, options: CallOptions, headers: Mapping[str, str]
    ) -> HttpRequest:
        """``POST /v1/<path>`` with a body already in Anthropic's own shape: the gateway passes
        Messages requests for Anthropic models through untranslated. ``headers``: the
        caller's ``anthropic-version`` and ``anthropic-beta``, sent instead of this provider's
        (never its key)."""
        http = self._http("POST", path, options, body)
        for name, value in headers.items():
            if name.lower() in ("anthropic-version", "anthropic-beta"):
                http.headers[name.lower()] = value
        return http

    # -- chat --------------------------------------------------------------------------------
    async def chat_http(self, request: ChatRequest, *, stream: bool) -> HttpRequest:
        """The HTTP request of one chat call (Claude on Vertex AI sends the same body
        elsewhere: vertex.py overrides this)."""
        body = build_messages_body(
            request, stream=stream, rules=self.model_rules, thinking=self._thinking
        )
        return self._http("POST", "messages", request.options, body)

    async def stream_chat(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        http = await self.chat_http(request, stream=True)
        http.headers["Accept"] = "text/event-stream"
        state = StreamState(self.name, json_tool=request.response_format is not None)
        decoder = SSEDecoder()
        async with require_transport(request.options.transport).stream(http) as resp:
            async for piece in resp.iter_bytes():
                for event in decoder.feed(piece):
                    for item in _stream_events(event, state, self.name):
                        yield item
                    if state.stopped:
                        self._thinking.remember(state.remembered())
                        return
            for event in decoder.close():
                for item in _stream_events(event, state, self.name):
                    yield item
        if not state.finished:
            raise APIResponseValidationError(
                "the stream ended before message_stop: the answer may be cut short",
                provider=self.name,
            )
        self._thinking.remember(state.remembered())

    async def complete_chat(self, request: ChatRequest) -> Sequence[ChatEvent]:
        http = await self.chat_http(request, stream=False)
        payload = (await require_transport(request.options.transport).request(http)).json()
        if not isinstance(payload, dict):
            raise APIResponseValidationError("expected a Message object", provider=self.name)
        state = StreamState(self.name, json_tool=request.response_format is not None)
        events = message_events(payload, state)
        self._thinking.remember(state.remembered())
        return events

    # -- models ------------------------------------------------------------------------------
    async def list_models(self, request: ModelsRequest) -> list[str]:
        ids: list[str] = []
        after: str | None = None
        for _ in range(MAX_MODEL_PAGES):
            path = "models?limit=1000" + (f"&after_id={quote(after, safe='')}" if after else "")
            payload = (
                await require_transport(request.options.transport).request(
                    self._http("GET", path, request.options), max_bytes=MAX_MODEL_LIST_BYTES
                )
            ).json()
            data = payload.get("data") if isinstance(payload, dict) else None
            if not isinstance(data, list):
                raise APIResponseValidationError("expected a model list", provider=self.name)
            ids += [str(m["id"]) for m in data if isinstance(m, dict) and m.get("id")]
            after = payload.get("last_id")
            if not payload.get("has_more") or not after:
                break
        return ids


def _stream_events(event: SSEEvent, state: StreamState, provider: str) -> list[ChatEvent]:
    """One SSE event -> its chat events; anything but a well-formed event object is a
    validation error, as in every other provider (typed errors it carries pass through)."""
    try:
        payload = orjson.loads(event.data)
        if type(payload) is not dict:
            raise TypeError(f"expected an object, got {type(payload).__name__}")
        # The JSON type is authoritative; the event: line repeats it.
        return list(state.events(payload.get("type") or event.event, payload))
    except orjson.JSONDecodeError as exc:
        raise APIResponseValidationError(
            f"malformed JSON in the stream: {quoted(event.data)}", provider=provider
        ) from exc
    except (AttributeError, TypeError, ValueError, KeyError, IndexError) as exc:
        raise APIResponseValidationError(
            f"a stream event of an unexpected shape ({exc}): {quoted(event.data)}",
            provider=provider,
        ) from exc
