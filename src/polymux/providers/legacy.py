"""Adapter for g4f-style custom providers, so existing ones keep working unchanged.

A g4f provider is a class (or instance) in one of three styles (``base_provider.py``):
``create_async_generator(model, messages, stream, **kwargs)`` (an async generator),
``create_completion(model, messages, stream, **kwargs)`` (a sync generator, run in a worker
thread) or ``create_async(model, messages, **kwargs)`` (a coroutine returning the text).
It yields text pieces and g4f's response objects (``response.py``, matched by class name so
g4f's own classes work too), which become polymux's events here.

It receives what g4f passes: ``stream``, the sampling options given, ``stop``, ``tools``,
``tool_choice``, ``response_format``, ``proxy``, ``api_key``, images as ``media=[(data, name)]``,
and every other keyword of the call (``extra_body``), as g4f forwards them. As in g4f, each
piece it yields counts as one token against ``max_tokens``, and for a non-streamed call with a
JSON ``response_format`` the answer is the JSON found in its text.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Sequence
from contextlib import aclosing
from contextvars import ContextVar
from typing import Any

from ..errors import (
    MissingCredentialsError,
    NoMediaResponseError,
    PolymuxError,
    ProviderError,
    ProviderNotWorkingError,
)
from ..types.events import ChatEvent, Finish, ReasoningDelta, ToolCallDelta, Usage
from ..types.request import ChatRequest, ImageRef, ImageRequest
from .base import Capabilities, Provider
from .response import markdown_images

__all__ = ["CONVERSATIONS", "LegacyProvider", "extract_json", "is_legacy_provider"]

#: Where a g4f-style provider's conversation state goes: a list the client sets for one call
#: (client/g4f.py), read back into ``response.conversation``. A context variable, so each call
#: (and the tasks it starts) has its own.
CONVERSATIONS: ContextVar[list[Any] | None] = ContextVar("polymux_g4f_conversations", default=None)

_PASSTHROUGH = (
    "temperature",
    "top_p",
    "max_tokens",
    "stop",
    "seed",
    "tools",
    "tool_choice",
    "response_format",
)
_STYLES = ("create_async_generator", "create_completion", "create_async")
#: Keywords that steer the adapter and are not sent on (g4f consumes them before the call).
_CONTROL = ("ignore_working",)


def is_legacy_provider(obj: object) -> bool:
    if isinstance(obj, Provider) or (isinstance(obj, type) and issubclass(obj, Provider)):
        return False
    return any(callable(getattr(obj, style, None)) for style in _STYLES)


def _attr(wrapped: Any, name: str, default: Any) -> Any:
    value = getattr(wrapped, name, default)
    return default if value is None else value


class LegacyProvider(Provider):
    """Wraps one g4f-style provider class (or instance); its class attributes are read as
    its capabilities."""

    images_per_call = 10  # one call yields what it yields; the client asks once
    edits_images = True  # g4f hands any provider the images to change (media=)

    def __init__(self, wrapped: Any, *, api_key: str | None = None, base_url: str | None = None):
        super().__init__(api_key=api_key, base_url=base_url)
        self._wrapped = wrapped
        self.name = str(getattr(wrapped, "__name__", type(wrapped).__name__))
        self.models = list(_attr(wrapped, "models", ()))
        self.default_model = getattr(wrapped, "default_model", None)
        self.model_aliases = dict(_attr(wrapped, "model_aliases", {}))
        self.image_models = list(_attr(wrapped, "image_models", ()))
        self.default_image_model = getattr(wrapped, "default_image_model", None)
        self.vision_models = list(_attr(wrapped, "vision_models", ()))
        self.working = bool(_attr(wrapped, "working", True))
        self.supports_stream = bool(_attr(wrapped, "supports_stream", True))
        self.supports_system_message = bool(_attr(wrapped, "supports_system_message", True))
        self.requires_api_key = bool(_attr(wrapped, "needs_auth", False))

    def capabilities_for(self, model: str) -> Capabilities:
        # g4f hands images, tools and response formats to every provider; only a provider
        # that lists its vision models says which models see images.
        vision = not self.vision_models or model in self.vision_models
        return Capabilities(vision=vision, tools=True, json_schema=True, json_object=True)

    @property
    def supports_images(self) -> bool:
        return True  # g4f asks any provider for images; one that yields none fails then

    def serves_image_model(self, model: str) -> bool:
        return not model or not self.image_models or model in self.image_models

    # -- calling the wrapped provider --------------------------------------------------------
    def _check(self, extra: dict[str, Any]) -> None:
        if not self.working and not extra.get("ignore_working"):
            raise ProviderNotWorkingError(
                f"{self.name} is marked working = False; pass ignore_working=True to use it anyway"
            )
        if self.requires_api_key and not self.api_key:
            raise MissingCredentialsError(self.name)

    def _iterate(
        self, model: str, messages: list[Any], stream: bool, kwargs: dict[str, Any]
    ) -> AsyncIterator[Any]:
        wrapped = self._wrapped
        if callable(getattr(wrapped, "create_async_generator", None)):
            return wrapped.create_async_generator(model, messages, stream=stream, **kwargs)  # type: ignore[no-any-return]
        if callable(getattr(wrapped, "create_completion", None)):
            return _in_thread(lambda: wrapped.create_completion(model, messages, stream, **kwargs))
        return _awaited(wrapped.create_async(model, messages, **kwargs))

    async def _items(
        self, model: str, messages: list[Any], stream: bool, kwargs: dict[str, Any]
    ) -> AsyncGenerator[Any, None]:
        """The wrapped provider's items; its own exceptions become ProviderError, once."""
        iterator: AsyncIterator[Any] | None = None
        try:
            iterator = self._iterate(model, messages, stream, kwargs)
            async for item in iterator:
                yield item
        except PolymuxError:
            raise
        except Exception as exc:  # this boundary translates foreign exceptions, once
            raise ProviderError(
                f"{self.name} failed: {type(exc).__name__}: {exc}", provider=self.name
            ) from exc
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()

    def _common(self, options: Any, extra: dict[str, Any]) -> dict[str, Any]:
        kwargs = {k: v for k, v in extra.items() if k not in _CONTROL}
        if self.api_key:
            kwargs["api_key"] = self.api_key
        if options.proxy:
            kwargs["proxy"] = options.proxy
        return kwargs

    async def stream_chat(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        self._check(request.extra_body)
        kwargs = self._common(request.options, request.extra_body)
        for key in _PASSTHROUGH:
            value = getattr(request, key)
            if value is not None:
                kwargs[key] = value
        media = [_media_item(ref) for ref in request.images()]
        if media:
            kwargs.setdefault("media", media)
        messages = request.messages
        if not self.supports_system_message:
            messages = [{**m, "role": "user"} if m["role"] == "system" else m for m in messages]
        fmt = (request.response_format or {}).get("type")
        want_json = not request.stream and fmt in ("json_object", "json_schema")
        # g4f counts every piece a provider yields as one token (0 still lets one through).
        limit = request.token_limit
        count = 0
        text: list[str] = []
        stream = request.stream and self.supports_stream
        # aclosing: a caller who stops reading closes the wrapped provider's generator now.
        async with aclosing(self._items(request.model, messages, stream, kwargs)) as items:
            async for item in items:
                if _is_conversation(item):
                    kept = CONVERSATIONS.get()
                    if kept is not None:
                        kept.append(item)
                    continue
                events = [item] if isinstance(item, str) else _translate(item)
                for event in events:
                    if want_json and isinstance(event, str):
                        text.append(event)
                    elif event:
                        yield event
                if any(isinstance(e, (str, ReasoningDelta)) and e for e in events):
                    count += 1
                    if limit is not None and count >= max(limit, 1):
                        if text:
                            yield extract_json("".join(text))
                        yield Finish("length")
                        return
        if text:
            yield extract_json("".join(text))

    async def generate_images(self, request: ImageRequest) -> Sequence[str]:
        """g4f's way: ask the provider with the prompt as the message and as ``prompt=``, and
        keep the media it yields."""
        self._check(request.extra_body)
        kwargs = self._common(request.options, request.extra_body)
        kwargs["prompt"] = request.prompt
        if request.images:  # an edit: g4f passes the images as media
            kwargs["media"] = [_media_item(ref) for ref in request.images]
        if request.size:
            kwargs.setdefault("size", request.size)
        messages = [{"role": "user", "content": request.prompt}]
        urls: list[str] = []
        async with aclosing(self._items(request.model, messages, True, kwargs)) as items:
            async for item in items:
                kind = type(item).__name__
                if kind in ("ImageResponse", "MediaResponse"):
                    found = getattr(item, "urls", None)
                    urls.extend([found] if isinstance(found, str) else list(found or ()))
                elif kind == "AudioResponse" and isinstance(getattr(item, "data", None), str):
                    urls.append(item.data)
        urls = [u for u in urls if isinstance(u, str) and u]
        if not urls:
            raise NoMediaResponseError(
                f"{self.name} answered without any image", provider=self.name
            )
        return urls


async def _in_thread(make: Any) -> AsyncIterator[Any]:
    """A sync generator's items, each pulled in a worker thread (it may block on I/O)."""
    done = object()
    iterator: Iterator[Any] = await asyncio.to_thread(lambda: iter(make()))
    try:
        while True:
            item = await asyncio.to_thread(next, iterator, done)
            if item is done:
                return
            yield item
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


async def _awaited(pending: Any) -> AsyncIterator[Any]:
    yield await pending


def _media_item(ref: ImageRef) -> tuple[Any, str | None]:
    """An input image as g4f passes it: bytes (or the URL), with no file name."""
    return (ref.data if ref.data is not None else ref.url), None


_FENCED = re.compile(r"```(?:json)?\s*\n?(.*?)```", re.DOTALL)


def extract_json(text: str) -> str:
    """The JSON an answer holds: the whole text, a fenced block, or the outermost object or
    array in it (as g4f does for ``response_format`` JSON); the text unchanged if none."""
    candidates: list[str] = [text.strip(), *(m.strip() for m in _FENCED.findall(text))]
    for opener, closer in (("{", "}"), ("[", "]")):
        start, end = text.find(opener), text.rfind(closer)
        if 0 <= start < end:
            candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            json.loads(candidate)
        except ValueError:
            continue
        return candidate
    return text


def _is_conversation(item: Any) -> bool:
    return any(t.__name__ in ("BaseConversation", "JsonConversation") for t in type(item).__mro__)


def _translate(item: Any) -> list[ChatEvent]:
    """g4f's response objects (matched by class name: g4f is not a dependency)."""
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
                arguments = fn.get("arguments")
                if arguments is None:
                    arguments = ""
                elif not isinstance(arguments, str):  # a dict: {} is "{}", not nothing
                    arguments = json.dumps(arguments)
                events.append(
                    ToolCallDelta(i, id=call.get("id"), name=fn["name"], arguments=arguments)
                )
        return events
    elif kind in ("ImageResponse", "MediaResponse", "VideoResponse"):
        # Images inside a chat answer read as Markdown images, as g4f renders them.
        urls = getattr(item, "urls", None)
        urls = [urls] if isinstance(urls, str) else [u for u in urls or () if isinstance(u, str)]
        alt = getattr(item, "alt", "")
        text = markdown_images(urls, alt if isinstance(alt, str) else "")
        return ["\n" + text + "\n"] if text else []
    return []  # sources, conversations, debug objects: nothing a chat completion carries
