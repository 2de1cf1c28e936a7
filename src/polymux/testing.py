"""Test doubles that ship with polymux, so users can test their own code without a network.

``ScriptedProvider`` answers from a script; ``FunctionProvider`` answers by calling a function.
Both record the requests they received::

    provider = ScriptedProvider("Hello!", ["Hel", "lo"], RateLimitError(...))
    client = AsyncClient(provider=provider)
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any

from .providers.base import Capabilities, GeneratedImage, Provider
from .types.events import ChatEvent
from .types.request import ChatRequest, ImageRequest, ModelsRequest

__all__ = ["ALL_CAPABILITIES", "FunctionProvider", "ScriptedProvider"]

ALL_CAPABILITIES = Capabilities(
    vision=True, tools=True, json_schema=True, json_object=True, multiple_choices=True
)

Reply = str | BaseException | Sequence[Any]


class ScriptedProvider(Provider):
    """Each chat call plays the next reply of the script; the last reply repeats.

    A reply is a string (one piece of text), an exception (raised before any content), or a
    list of str / events / exceptions played in order (an exception mid-list is raised after
    the pieces before it). ``delay`` sleeps before each piece. ``images`` are what
    ``generate_images`` returns (URLs, bytes or GeneratedImage), one per requested image.
    """

    def __init__(
        self,
        *replies: Reply,
        name: str = "scripted",
        models: Sequence[str] = ("scripted-model",),
        image_models: Sequence[str] = (),
        images: Sequence[str | bytes | GeneratedImage] = (),
        capabilities: Capabilities = ALL_CAPABILITIES,
        delay: float = 0.0,
    ) -> None:
        super().__init__()
        self.name = name
        self.models = list(models)
        self.image_models = list(image_models)
        self.capabilities = capabilities
        self._replies: list[Reply] = list(replies) or [""]
        self._images = list(images)
        self._delay = delay
        self.requests: list[ChatRequest] = []
        self.image_requests: list[ImageRequest] = []
        #: Streams that were closed before playing their whole reply (cancel, break, stop).
        self.closed_early = 0
        #: Streams currently being played.
        self.active = 0

    def _next_reply(self) -> Reply:
        return self._replies.pop(0) if len(self._replies) > 1 else self._replies[0]

    async def stream_chat(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        self.requests.append(request)
        reply = self._next_reply()
        items: Sequence[Any] = [reply] if isinstance(reply, (str, BaseException)) else reply
        self.active += 1
        finished = False
        try:
            for item in items:
                if self._delay:
                    await asyncio.sleep(self._delay)
                if isinstance(item, BaseException):
                    raise item
                yield item
            finished = True
        finally:
            self.active -= 1
            if not finished:
                self.closed_early += 1

    async def generate_images(
        self, request: ImageRequest
    ) -> Sequence[GeneratedImage | str | bytes]:
        self.image_requests.append(request)
        if not self._images:
            raise AssertionError("ScriptedProvider was given no images=")
        return [self._images[i % len(self._images)] for i in range(request.n)]

    @property
    def supports_images(self) -> bool:
        return bool(self._images)

    async def list_models(self, request: ModelsRequest) -> list[str]:
        return [*self.models, *self.image_models]


class FunctionProvider(Provider):
    """Answers by calling ``fn(request)``, which returns (or awaits to) a string, an iterable
    or an async iterable of str / events."""

    def __init__(
        self,
        fn: Callable[[ChatRequest], Any],
        *,
        name: str = "function",
        models: Sequence[str] = ("function-model",),
        capabilities: Capabilities = ALL_CAPABILITIES,
    ) -> None:
        super().__init__()
        self.name = name
        self.models = list(models)
        self.capabilities = capabilities
        self._fn = fn
        self.requests: list[ChatRequest] = []

    async def stream_chat(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        self.requests.append(request)
        result = self._fn(request)
        if inspect.isawaitable(result):
            result = await result
        if isinstance(result, str):
            yield result
        elif hasattr(result, "__aiter__"):
            async for item in result:
                yield item
        elif isinstance(result, Iterable):
            for item in result:
                yield item
        else:
            raise TypeError(f"FunctionProvider's function returned {type(result).__name__}")
