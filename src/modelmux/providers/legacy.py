"""Adapter for g4f-style custom providers, so existing ones keep working unchanged.

A g4f provider is a class with a ``create_async_generator(model, messages, **kwargs)``
classmethod that yields text pieces. Non-text items it may yield (g4f's own FinishReason,
Usage or debug objects) are translated where their meaning is clear and skipped otherwise.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ..types.events import ChatEvent, Finish
from ..types.request import ChatRequest
from .base import Provider

__all__ = ["LegacyProvider", "is_legacy_provider"]

_PASSTHROUGH = ("temperature", "top_p", "max_tokens", "stop", "seed")


def is_legacy_provider(obj: object) -> bool:
    return not isinstance(obj, Provider) and callable(getattr(obj, "create_async_generator", None))


class LegacyProvider(Provider):
    """Wraps one g4f-style provider class (or instance)."""

    def __init__(self, wrapped: Any, *, api_key: str | None = None, base_url: str | None = None):
        super().__init__(api_key=api_key, base_url=base_url)
        self._wrapped = wrapped
        self.name = str(getattr(wrapped, "__name__", type(wrapped).__name__))
        self.models = list(getattr(wrapped, "models", None) or ())
        self.default_model = getattr(wrapped, "default_model", None)

    async def stream_chat(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        kwargs: dict[str, Any] = {"stream": request.stream}
        for key in _PASSTHROUGH:
            value = getattr(request, key)
            if value is not None:
                kwargs[key] = value
        if self._api_key:
            kwargs["api_key"] = self._api_key
        kwargs.update(request.extra_body)
        generator = self._wrapped.create_async_generator(request.model, request.messages, **kwargs)
        try:
            async for item in generator:
                if isinstance(item, str):
                    yield item
                elif type(item).__name__ == "FinishReason" and hasattr(item, "reason"):
                    reason = str(item.reason)
                    if reason in ("stop", "length", "tool_calls", "content_filter"):
                        yield Finish(reason)  # type: ignore[arg-type]
        finally:
            aclose = getattr(generator, "aclose", None)
            if aclose is not None:
                await aclose()
