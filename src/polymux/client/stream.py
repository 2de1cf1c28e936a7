"""Stream objects returned by ``create(..., stream=True)``.

``AsyncChatStream`` works in both styles users write::

    async for chunk in client.chat.completions.create(..., stream=True): ...  # the seed's
    stream = await client.chat.completions.create(..., stream=True)           # the OpenAI SDK's

It is an async context manager and has ``aclose()``; closing it (or cancelling the task that
iterates it) closes the provider's generator and with it the upstream connection. Nothing runs
until the first chunk is asked for, and no background task is involved, so cancellation
reaches the provider directly.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Generator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ..types.chat import ChatCompletionChunk

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["AsyncChatStream", "AsyncEventStream"]

T = TypeVar("T")


async def _ended() -> Any:
    raise StopAsyncIteration


class AsyncEventStream(Generic[T]):
    """An async iterator over one answer's items (chat chunks, Responses events)."""

    __slots__ = ("_chunks", "_closed")

    def __init__(self, chunks: AsyncGenerator[T, None]) -> None:
        self._chunks = chunks
        self._closed = False

    def __aiter__(self) -> Self:
        return self

    def __anext__(self) -> Awaitable[T]:
        # The generator's own awaitable, not a coroutine awaiting it: one coroutine and frame
        # fewer a chunk.
        if self._closed:
            return _ended()
        return self._chunks.__anext__()

    def __await__(self) -> Generator[Any, None, Self]:
        # `await create(..., stream=True)` gives the stream itself, as in the OpenAI SDK.
        if False:  # pragma: no cover - makes this a generator function
            yield
        return self

    async def aclose(self) -> None:
        """Stop the stream and release its upstream connection. Safe to call twice."""
        if not self._closed:
            self._closed = True
            await self._chunks.aclose()

    # The OpenAI SDK's AsyncStream calls it close().
    close = aclose

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class AsyncChatStream(AsyncEventStream[ChatCompletionChunk]):
    """An async iterator of ``ChatCompletionChunk``."""

    __slots__ = ()

    async def collect_text(self) -> str:
        """Read the whole stream; return the answer's text (choice 0)."""
        parts = []
        async for chunk in self:
            for choice in chunk.choices:
                if choice.index == 0 and choice.delta.content:
                    parts.append(choice.delta.content)
        return "".join(parts)
