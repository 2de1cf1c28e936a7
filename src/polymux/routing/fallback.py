"""Fallback across providers: try each in order until one answers.

A provider is left for the next when it fails before delivering any content with an error
worth trying elsewhere (``is_retryable``). Once content has reached the caller, an error is
the caller's: switching providers mid-answer would splice two different answers together.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from dataclasses import dataclass

from ..errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    MissingCredentialsError,
    ProviderCooldownError,
    ProviderError,
    UnsupportedCapabilityError,
)
from ..providers.base import Provider
from ..types.events import (
    ChatEvent,
    ReasoningDelta,
    RefusalDelta,
    TextDelta,
    ToolCallDelta,
    WholeChoice,
)
from ..types.request import ChatRequest

__all__ = [
    "EmptyResponseError",
    "Selection",
    "completed",
    "is_retryable",
    "start_stream",
]

log = logging.getLogger("polymux.routing")

_RETRYABLE_STATUS = frozenset({408, 409, 429})


class EmptyResponseError(APIResponseValidationError):
    """The provider ended its answer without any content."""


def is_retryable(exc: BaseException, also_status: Collection[int] = ()) -> bool:
    """Whether another provider might succeed where this one failed. ``also_status``: more
    HTTP statuses to treat so (``RoutingOptions.fallback_on_status``)."""
    if isinstance(exc, APIStatusError):
        code = exc.status_code
        return code in _RETRYABLE_STATUS or code >= 500 or code in also_status
    return isinstance(
        exc,
        (
            APIConnectionError,
            APIResponseValidationError,
            ProviderCooldownError,
            ProviderError,
            MissingCredentialsError,
            UnsupportedCapabilityError,
        ),
    )


def _is_content(event: ChatEvent) -> bool:
    if isinstance(event, str):
        return bool(event)
    if isinstance(event, (TextDelta, ReasoningDelta, RefusalDelta)):
        return bool(event.text)
    if isinstance(event, WholeChoice):
        return event.has_content
    return isinstance(event, ToolCallDelta)


@dataclass(slots=True)
class Selection:
    """The provider that answers: the events read so far, then the rest of its stream.

    The caller iterates ``held`` and then ``rest`` directly (no extra generator layer on the
    per-chunk path) and must ``aclose()`` it.
    """

    provider: Provider
    held: list[ChatEvent]
    rest: AsyncIterator[ChatEvent] | None
    #: Called once when the selection is closed (gives back a concurrency slot).
    on_close: Callable[[], None] | None = None

    async def aclose(self) -> None:
        try:
            aclose = getattr(self.rest, "aclose", None)
            if aclose is not None:
                await aclose()
        finally:
            self.release()

    def release(self) -> None:
        """Give back what the selection holds besides its stream (once)."""
        on_close, self.on_close = self.on_close, None
        if on_close is not None:
            on_close()


def completed(provider: Provider, answer: Sequence[ChatEvent], require_content: bool) -> Selection:
    """The selection of a provider's whole (non-streamed) answer. The caller awaits
    ``complete_chat`` itself: one coroutine layer less on the path every request takes."""
    events = answer if type(answer) is list else list(answer)
    if require_content and not any(_is_content(e) for e in events):
        raise EmptyResponseError("the provider answered with no content", provider=provider.name)
    return Selection(provider, events, None)


async def start_stream(
    provider: Provider, request: ChatRequest, require_content: bool
) -> Selection:
    """Run one provider's stream until its first piece of content (or its end)."""
    stream = provider.stream_chat(request)
    selection = Selection(provider, [], stream)
    try:
        async for event in stream:
            selection.held.append(event)
            if _is_content(event):
                return selection
    except BaseException:
        await selection.aclose()
        raise
    if require_content:
        await selection.aclose()
        raise EmptyResponseError("the provider answered with no content", provider=provider.name)
    selection.rest = None  # exhausted
    return selection
