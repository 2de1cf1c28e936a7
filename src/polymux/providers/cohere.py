"""Cohere's v2 Chat API (``POST /v2/chat``), natively.

``CO_API_KEY`` (the official SDK's variable) or ``COHERE_API_KEY``, sent as a Bearer token;
``CO_API_URL`` or ``base_url=`` to point elsewhere (with or without ``/v2``). The translation
lives in cohere_wire.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import quote

import orjson

from ..errors import APIResponseValidationError
from ..transport.base import HttpRequest, require_transport
from ..transport.errors import embedded_error, stray_error
from ..transport.sse import SSEDecoder
from ..types.events import ChatEvent
from ..types.request import CallOptions, ChatRequest, ModelsRequest
from .base import MAX_MODEL_LIST_BYTES, MAX_MODEL_PAGES, Capabilities, Provider
from .cohere_wire import StreamState, build_chat_body, message_events

__all__ = ["Cohere"]

_TEXT = Capabilities(tools=True, json_schema=True, json_object=True)
_VISION = Capabilities(vision=True, tools=True, json_schema=True, json_object=True)


class Cohere(Provider):
    """Command models through Cohere's v2 Chat API: text, images (vision models), tools,
    JSON output, reasoning (``thinking``) as ``reasoning_content``; a model's plan before it
    calls tools (``tool_plan``) is reasoning too."""

    name = "cohere"
    api_key_env = ("CO_API_KEY", "COHERE_API_KEY")
    requires_api_key = True
    default_base_url = "https://api.cohere.com"
    free_tier = "trial keys at no cost, rate-limited, not for production"
    base_url_env = "CO_API_URL"
    capabilities = _TEXT
    default_model = "command-a-03-2025"
    models = (
        "command-a-03-2025",
        "command-a-reasoning-08-2025",
        "command-a-vision-07-2025",
        "command-r-plus-08-2024",
        "command-r-08-2024",
        "command-r7b-12-2024",
    )
    deadline_in_transport = True

    def capabilities_for(self, model: str) -> Capabilities:
        return _VISION if "vision" in model else _TEXT

    # -- where and how -----------------------------------------------------------------------
    def url(self, path: str) -> str:
        root = self.resolved_base_url or ""
        for suffix in ("/v2", "/v1"):
            root = root.removesuffix(suffix)
        return f"{root}/{path}"

    def headers(self) -> dict[str, str]:
        return {
            "Accept": "application/json",
            **self.default_headers,
            "Authorization": f"Bearer {self.require_api_key()}",
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

    def _payload(self, data: str) -> dict[str, Any]:
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise APIResponseValidationError(
                f"malformed JSON in the stream: {data[:200]!r}", provider=self.name
            ) from exc
        error = embedded_error(payload, self.name)
        if error is not None:
            raise error
        if not isinstance(payload, dict):
            raise APIResponseValidationError("expected a stream event object", provider=self.name)
        return payload

    # -- chat --------------------------------------------------------------------------------
    async def stream_chat(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        http = self._http("POST", "v2/chat", request.options, build_chat_body(request, stream=True))
        state = StreamState(self.name)
        decoder = SSEDecoder()
        async with require_transport(request.options.transport).stream(http) as resp:
            async for piece in resp.iter_bytes():
                for event in decoder.feed(piece):
                    if event.data == "[DONE]":
                        break
                    payload = self._payload(event.data)
                    for item in state.events(str(payload.get("type") or event.event), payload):
                        yield item
            for event in decoder.close():
                if event.data != "[DONE]":
                    payload = self._payload(event.data)
                    for item in state.events(str(payload.get("type") or event.event), payload):
                        yield item
        if not state.finished:
            error = stray_error(decoder.stray, self.name)
            if error is not None:
                raise error
            raise APIResponseValidationError(
                "the stream ended before message-end: the answer may be cut short",
                provider=self.name,
            )

    async def complete_chat(self, request: ChatRequest) -> Sequence[ChatEvent]:
        body = build_chat_body(request, stream=False)
        http = self._http("POST", "v2/chat", request.options, body)
        payload = (await require_transport(request.options.transport).request(http)).json()
        error = embedded_error(payload, self.name)
        if error is not None:
            raise error
        if not isinstance(payload, dict) or not isinstance(payload.get("message"), dict):
            raise APIResponseValidationError("expected a chat response", provider=self.name)
        return message_events(payload, StreamState(self.name))

    # -- models ------------------------------------------------------------------------------
    async def list_models(self, request: ModelsRequest) -> list[str]:
        ids: list[str] = []
        token: str | None = None
        for _ in range(MAX_MODEL_PAGES):
            path = "v1/models?endpoint=chat&page_size=1000"
            if token:
                path += f"&page_token={quote(token, safe='')}"
            payload = (
                await require_transport(request.options.transport).request(
                    self._http("GET", path, request.options), max_bytes=MAX_MODEL_LIST_BYTES
                )
            ).json()
            models = payload.get("models") if isinstance(payload, dict) else None
            if not isinstance(models, list):
                raise APIResponseValidationError("expected a model list", provider=self.name)
            ids += [str(m["name"]) for m in models if isinstance(m, dict) and m.get("name")]
            token = payload.get("next_page_token")
            if not token:
                break
        return ids
