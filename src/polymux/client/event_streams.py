"""Streamed answers that are not chat: opening the first provider's stream through the one
fallback loop, and reading a stream of JSON events (OpenAI's ``transcript.text.*`` and
``image_edit.*``) through the one SSE decoder.

A stream that broke off counts against its provider's health when it is closed; the caller's
own failure and a cancellation do not.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import orjson

from ..errors import APIResponseValidationError
from ..providers.base import Provider
from ..transport.base import ByteStream
from ..transport.errors import embedded_error, stray_error
from ..transport.sse import SSEDecoder
from ..types.request import CallOptions

if TYPE_CHECKING:
    from ..routing.router import Router

__all__ = ["MAX_WHOLE_BYTES", "JsonEvents", "open_first", "whole_object"]

#: Largest whole JSON answer read where a stream was asked for (a host ignoring ``stream``).
MAX_WHOLE_BYTES = 16 * 1024 * 1024
E = TypeVar("E")


class _Failing(Protocol):
    failure: Exception | None


W = TypeVar("W", bound=_Failing)


@asynccontextmanager
async def open_first(
    router: Router,
    providers: Sequence[Provider],
    options: CallOptions,
    routing: Any,
    open_one: Callable[[Provider], AbstractAsyncContextManager[ByteStream]],
    wrap: Callable[[Provider, ByteStream], W],
) -> AsyncIterator[W]:
    """The first provider's stream that opens (the one fallback loop), wrapped; a stream
    that broke off later (``failure`` of the wrapper) counts against its provider's health
    when it is closed."""
    held: dict[int, AsyncExitStack] = {}  # each opened stream's slot and connection

    async def attempt(provider: Provider, _deadline: float | None) -> ByteStream:
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(router.slot(provider))
            stream = await stack.enter_async_context(open_one(provider))
            held[id(stream)] = stack.pop_all()
            return stream

    async def discard(stream: ByteStream) -> None:  # a hedged attempt that lost
        await held.pop(id(stream)).aclose()

    try:
        provider, stream = await router.first(
            providers, attempt, total=options.timeout.total, options=routing, discard=discard
        )
        answer = wrap(provider, stream)
        try:
            yield answer
        except BaseException as exc:
            # The stream's own failure is the provider's; the caller's is not (None), and
            # a cancellation gives no verdict (it is passed on as such).
            verdict = answer.failure or (None if isinstance(exc, Exception) else exc)
            await router.settle(provider.name, verdict)
            raise
        await router.settle(provider.name, answer.failure)
    finally:
        for stack in held.values():
            await stack.aclose()


class JsonEvents(Generic[E]):
    """A stream of JSON events (``data:`` lines, each an object with a ``type``), each
    made into the caller's event by ``build``; the stream must end with a ``done`` event,
    else the answer may be cut short (an error). ``whole``: a host that ignores ``stream``
    (OpenAI's whisper-1 does) answers one JSON object; ``whole`` makes it the done event."""

    def __init__(
        self,
        provider: Provider,
        stream: ByteStream,
        *,
        build: Callable[[Mapping[str, Any], str], E],
        done: str,
        whole: Callable[[dict[str, Any]], Mapping[str, Any]] | None = None,
    ) -> None:
        self._stream = stream
        self._build = build
        self._done = done
        self._whole = whole
        self.provider = provider.name
        #: The upstream's failure, if the stream broke off (the provider's health hears it).
        self.failure: Exception | None = None

    async def __aiter__(self) -> AsyncIterator[E]:
        try:
            if self._whole is not None and "json" in self._stream.headers.get("Content-Type", ""):
                whole = await whole_object(self._stream, self.provider)
                yield self._build(self._whole(whole), self.provider)
                return
            done = False
            decoder = SSEDecoder()
            async for piece in self._stream.iter_bytes():
                for sse in decoder.feed(piece):
                    payload = self._event(sse.data)
                    done = done or payload.get("type") == self._done
                    yield self._build(payload, self.provider)
            for sse in decoder.close():
                payload = self._event(sse.data)
                done = done or payload.get("type") == self._done
                yield self._build(payload, self.provider)
            if not done:
                raise stray_error(decoder.stray, self.provider) or APIResponseValidationError(
                    f"the stream ended without {self._done}: the answer may be cut short",
                    provider=self.provider,
                )
        except Exception as exc:
            self.failure = exc
            raise

    def _event(self, data: str) -> dict[str, Any]:
        payload = _object(data, self.provider)
        error = embedded_error(payload, self.provider)
        if error is not None:
            raise error
        if not isinstance(payload.get("type"), str):
            raise APIResponseValidationError(
                "a stream event without a type", provider=self.provider
            )
        return payload


async def whole_object(stream: ByteStream, provider: str) -> dict[str, Any]:
    """The one JSON object a host answered a streamed request with (it ignored ``stream``),
    read within ``MAX_WHOLE_BYTES``."""
    return _object(await stream.read(MAX_WHOLE_BYTES, provider), provider)


def _object(data: bytes | str, provider: str) -> dict[str, Any]:
    try:
        payload = orjson.loads(data)
    except orjson.JSONDecodeError:
        payload = None
    if not isinstance(payload, dict):
        raise APIResponseValidationError(
            f"malformed JSON in the stream: {str(data)[:200]!r}", provider=provider
        )
    return payload
