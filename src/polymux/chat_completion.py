"""g4f's legacy interface: ``polymux.ChatCompletion.create(model, messages, provider)``
returns the answer's text (or, with ``stream=True``, an iterator of text pieces), and
``create_async`` the same for async code. A thin layer over ``Client`` / ``AsyncClient``;
the keywords are those of ``chat.completions.create`` (g4f's included).

Unlike g4f, ``create`` works inside a running event loop (the sync client runs on its own
loop thread), so it never raises ``NestAsyncioError``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import Any, Literal, overload

from .client import AsyncClient, Client

__all__ = ["ChatCompletion"]


def _text(response: Any) -> str:
    return str(response.choices[0].message.content or "")


def _pieces(chunks: Iterator[Any], client: Client) -> Iterator[str]:
    try:
        for chunk in chunks:
            if chunk.choices and chunk.choices[0].delta.content:
                yield chunk.choices[0].delta.content
    finally:
        client.close()


async def _apieces(client: AsyncClient, pending: Any) -> AsyncIterator[str]:
    async with client:
        async for chunk in pending:
            if chunk.choices and chunk.choices[0].delta.content:
                yield chunk.choices[0].delta.content


async def _answer(client: AsyncClient, pending: Awaitable[Any]) -> str:
    async with client:
        return _text(await pending)


class ChatCompletion:
    """``ChatCompletion.create`` / ``create_async``, as in g4f."""

    @staticmethod
    def create(
        model: Any, messages: Any, provider: Any = None, stream: bool = False, **kwargs: Any
    ) -> str | Iterator[str]:
        client = Client(provider=provider)
        try:
            result = client.chat.completions.create(
                model=model, messages=messages, stream=stream, **kwargs
            )
            if stream:
                return _pieces(iter(result), client)  # type: ignore[arg-type]
            return _text(result)
        finally:
            if not stream:
                client.close()

    @overload
    @staticmethod
    def create_async(
        model: Any,
        messages: Any,
        provider: Any = None,
        stream: Literal[False] = False,
        **kwargs: Any,
    ) -> Awaitable[str]: ...

    @overload
    @staticmethod
    def create_async(
        model: Any, messages: Any, provider: Any = None, *, stream: Literal[True], **kwargs: Any
    ) -> AsyncIterator[str]: ...

    @staticmethod
    def create_async(
        model: Any, messages: Any, provider: Any = None, stream: bool = False, **kwargs: Any
    ) -> Awaitable[str] | AsyncIterator[str]:
        """Await it for the text; with ``stream=True``, iterate it for the pieces."""
        client = AsyncClient(provider=provider)
        pending = client.chat.completions.create(
            model=model, messages=messages, stream=stream, **kwargs
        )
        if stream:
            return _apieces(client, pending)
        return _answer(client, pending)
