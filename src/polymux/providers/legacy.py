"""Adapter for g4f-style custom providers, so existing ones keep working unchanged.

A g4f provider is a class with a ``create_async_generator(model, messages, **kwargs)``
classmethod that yields text pieces. Non-text items it may yield (g4f's own FinishReason,
Usage or debug objects) are translated where their meaning is clear and skipped otherwise.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from ..errors import PolymuxError, ProviderError
from ..types.events import ChatEvent, Finish, ReasoningDelta, ToolCallDelta, Usage
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
        generator = None
        try:
            generator = self._wrapped.create_async_generator(
                request.model, request.messages, **kwargs
            )
            async for item in generator:
                if isinstance(item, str):
                    yield item
                else:
                    for event in _translate(item):
                        yield event
        except PolymuxError:
            raise
        except Exception as exc:  # this boundary translates foreign exceptions, once
            raise ProviderError(
                f"{self.name} failed: {type(exc).__name__}: {exc}", provider=self.name
            ) from exc
        finally:
            aclose = getattr(generator, "aclose", None)
            if aclose is not None:
                await aclose()


def _translate(item: Any) -> list[ChatEvent]:
    """g4f's own response objects (matched by class name: g4f is not a dependency)."""
    kind = type(item).__name__
    if kind == "FinishReason":
        reason = str(getattr(item, "reason", ""))
        if reason in ("stop", "length", "tool_calls", "content_filter"):
            return [Finish(reason)]  # type: ignore[arg-type]
    elif kind == "Reasoning":
        token = getattr(item, "token", None)
        if isinstance(token, str) and token:
            return [ReasoningDelta(token)]
    elif kind == "Usage":
        prompt = getattr(item, "prompt_tokens", None)
        completion = getattr(item, "completion_tokens", None)
        if isinstance(prompt, int) and isinstance(completion, int):
            return [Usage(prompt_tokens=prompt, completion_tokens=completion)]
    elif kind == "ToolCalls":
        calls = getattr(item, "list", None) or []
        events: list[ChatEvent] = []
        for i, call in enumerate(calls):
            fn = call.get("function") if isinstance(call, dict) else None
            if isinstance(fn, dict) and isinstance(fn.get("name"), str):
                arguments = fn.get("arguments") or ""
                if not isinstance(arguments, str):
                    arguments = json.dumps(arguments)
                events.append(
                    ToolCallDelta(i, id=call.get("id"), name=fn["name"], arguments=arguments)
                )
        return events
    return []  # images, sources, debug objects: nothing a chat completion carries
