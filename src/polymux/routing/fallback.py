"""What fallback across providers decides from: which errors another provider might not
repeat (``is_retryable``), which events are content, and the ``Selection`` of a chat answer
that started (the loop itself is ``Router.first``).

A provider is left for the next when it fails before delivering any content with an error
worth trying elsewhere (``is_retryable``). Once content has reached the caller, an error is
the caller's: switching providers mid-answer would splice two different answers together.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from types import TracebackType

from ..errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    EmptyResponseError,
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

__all__ = ["Selection", "completed", "is_content", "is_retryable", "start_stream"]

log = logging.getLogger("polymux.routing")

_RETRYABLE_STATUS = frozenset({408, 409, 429})


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


def is_content(event: ChatEvent) -> bool:
    """Whether the event is part of the answer itself (text, reasoning, a refusal, a tool
    call), as opposed to bookkeeping (usage, ids, a finish)."""
    if isinstance(event, str):
        return bool(event)
    if isinstance(event, (TextDelta, ReasoningDelta, RefusalDelta)):
        return bool(event.text)
    if isinstance(event, WholeChoice):
        return event.has_content
    return isinstance(event, ToolCallDelta)


#: Reports how an answer ended: the provider's name, and None or the error it ended with.
Settle = Callable[[str, "BaseException | None"], Awaitable[None]]


@dataclass(slots=True)
class Selection:
    """The provider that answers: the events read so far, then the rest of its stream.

    The caller iterates ``held`` and then ``rest`` directly (no extra generator layer on the
    per-chunk path) inside ``async with selection:``, which on every exit closes the stream,
    gives back the concurrency slot and reports the outcome to the provider's health.
    """

    provider: Provider
    held: list[ChatEvent]
    rest: AsyncIterator[ChatEvent] | None
    #: Called once when the selection is closed (gives back a concurrency slot).
    on_close: Callable[[], None] | None = None
    #: Told how the answer ended when the ``async with`` block exits (the router's health).
    settle: Settle | None = None

    async def __aenter__(self) -> Selection:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            # A whole answer holding no concurrency slot (the usual non-streamed call) has
            # nothing to close: no coroutine is made for it.
            if self.rest is not None or self.on_close is not None:
                await self.aclose()
        finally:
            settle, self.settle = self.settle, None
            if settle is not None:
                await settle(self.provider.name, exc)

    async def aclose(self) -> None:
        """Close the stream and give back the slot, without a health verdict."""
        try:
            aclose = getattr(self.rest, "aclose", None)
            if aclose is not None:
                await aclose()
        finally:
            on_close, self.on_close = self.on_close, None
            if on_close is not None:
                on_close()


def completed(provider: Provider, answer: Sequence[ChatEvent], require_content: bool) -> Selection:
    """The selection of a provider's whole (non-streamed) answer."""
    events = answer if type(answer) is list else list(answer)
    if require_content and not any(is_content(e) for e in events):
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
            if is_content(event):
                return selection
    except BaseException:
        await selection.aclose()
        raise
    if require_content:
        await selection.aclose()
        raise EmptyResponseError("the provider answered with no content", provider=provider.name)
    selection.rest = None  # exhausted
    return selection
