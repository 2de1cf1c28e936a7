"""``Client``: the synchronous face of ``AsyncClient``.

It runs the very same async code on a private event loop in a background thread, so it works
where an event loop is already running (a notebook) without patching that loop, and there is
no second copy of any code path. Iterating a sync stream pulls one chunk at a time across.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import Awaitable, Coroutine, Iterator
from concurrent.futures import Future
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, overload

from ..types.chat import ChatCompletion, ChatCompletionChunk
from ..types.completions import Completion
from ..types.embeddings import CreateEmbeddingResponse
from ..types.images import ImagesResponse, ModelList
from ..types.moderations import ModerationCreateResponse
from ..types.request import Timeout
from .async_client import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, AsyncClient
from .stream import AsyncChatStream, AsyncEventStream

if TYPE_CHECKING:
    from typing_extensions import Self, Unpack

    from ..providers.registry import ProviderSpec
    from ..routing.health import HealthStore
    from ..routing.limits import LimitsSpec
    from ..routing.policy import RoutingOptions
    from ..routing.registry import ModelsSource
    from ..transport.base import Transport
    from .embeddings import EmbeddingParams
    from .moderations import ModerationParams
    from .params import ChatParams, ImageParams

__all__ = ["ChatStream", "Client"]

T = TypeVar("T")


class _LoopThread:
    """A private event loop running in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="polymux-sync", daemon=True
        )
        self._thread.start()

    def run(self, awaitable: Awaitable[T]) -> T:
        if threading.current_thread() is self._thread:
            raise RuntimeError("a sync polymux Client cannot be called from its own event loop")

        if self.loop.is_closed() or not self._thread.is_alive():
            if asyncio.iscoroutine(awaitable):
                awaitable.close()  # never started: no "was never awaited" warning
            raise RuntimeError("this polymux Client is closed; create a new one")

        async def wrapper() -> T:
            return await awaitable

        future: Future[T] = asyncio.run_coroutine_threadsafe(wrapper(), self.loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # KeyboardInterrupt and friends cancel the work in the loop too
            raise

    def stop(self, cleanup: Coroutine[Any, Any, None] | None = None) -> None:
        if self.loop.is_closed():
            return
        if self._thread.is_alive():
            with contextlib.suppress(Exception):  # closing is best effort at exit
                asyncio.run_coroutine_threadsafe(_shutdown_work(cleanup), self.loop).result(
                    timeout=5
                )
        elif cleanup is not None:
            cleanup.close()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        self.loop.close()


async def _shutdown_work(cleanup: Coroutine[Any, Any, None] | None) -> None:
    # Streams the caller abandoned without close() still hold a provider generator (and with
    # it an upstream connection): close them first, then the client's connection pool.
    try:
        await asyncio.get_running_loop().shutdown_asyncgens()
    finally:
        if cleanup is not None:
            await cleanup


def _shutdown(runner: _LoopThread, client: AsyncClient) -> None:
    runner.stop(client.close())


class SyncStream(Generic[T]):
    """An iterator over an async stream's items, pulled across from the loop thread; a
    context manager with ``close()``."""

    def __init__(self, stream: AsyncEventStream[T], runner: _LoopThread) -> None:
        self._stream = stream
        self._runner = runner

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        try:
            return self._runner.run(self._stream.__anext__())
        except StopAsyncIteration:
            raise StopIteration from None

    def close(self) -> None:
        self._runner.run(self._stream.aclose())

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class ChatStream(SyncStream[ChatCompletionChunk]):
    """An iterator of ``ChatCompletionChunk``; a context manager with ``close()``."""


class Client:
    """Synchronous client with the same surface as ``AsyncClient`` (the same arguments,
    typed the same: tests/test_core_client.py compares the two signatures)."""

    def __init__(
        self,
        provider: ProviderSpec = None,
        image_provider: ProviderSpec = None,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        proxy: str | None = None,
        timeout: float | Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: dict[str, str] | None = None,
        transport: Transport | None = None,
        allow_private_image_urls: bool = False,
        models: ModelsSource = None,
        routing: RoutingOptions | None = None,
        health: HealthStore | None = None,
        concurrency: LimitsSpec = None,
    ) -> None:
        self.async_client = AsyncClient(
            provider,
            image_provider,
            api_key=api_key,
            base_url=base_url,
            proxy=proxy,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
            transport=transport,
            allow_private_image_urls=allow_private_image_urls,
            models=models,
            routing=routing,
            health=health,
            concurrency=concurrency,
        )
        self._runner = _LoopThread()
        self._finalizer = weakref.finalize(self, _shutdown, self._runner, self.async_client)
        self.chat = _Chat(self)
        self.images = _Images(self)
        self.embeddings = _Embeddings(self)
        self.completions = _TextCompletions(self)
        self.moderations = _Moderations(self)
        self.audio = _Audio(self)
        self.models = _Models(self)
        from .sync_responses import SyncResponses  # it builds on this module's SyncStream

        self.responses = SyncResponses(self)

    def __repr__(self) -> str:
        return f"<Client providers={[p.name for p in self.async_client.providers]}>"

    def close(self) -> None:
        self._finalizer()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _Completions:
    def __init__(self, client: Client) -> None:
        self._client = client

    @overload
    def create(
        self,
        *,
        model: str = "",
        messages: Any,
        stream: Literal[False] = False,
        **params: Unpack[ChatParams],
    ) -> ChatCompletion: ...

    @overload
    def create(
        self, *, model: str = "", messages: Any, stream: Literal[True], **params: Unpack[ChatParams]
    ) -> ChatStream: ...

    @overload
    def create(
        self, *, model: str = "", messages: Any, stream: bool, **params: Unpack[ChatParams]
    ) -> ChatCompletion | ChatStream: ...

    def create(
        self, *, model: str = "", messages: Any, stream: bool = False, **params: Unpack[ChatParams]
    ) -> ChatCompletion | ChatStream:
        result = self._client.async_client.chat.completions.create(
            model=model, messages=messages, stream=stream, **params
        )
        if isinstance(result, AsyncChatStream):
            return ChatStream(result, self._client._runner)
        return self._client._runner.run(result)

    def parse(
        self, *, model: str = "", messages: Any, response_format: Any, **params: Any
    ) -> ChatCompletion:
        """``create`` validated into ``choices[i].message.parsed`` (see AsyncClient's)."""
        pending = self._client.async_client.chat.completions.parse(
            model=model, messages=messages, response_format=response_format, **params
        )
        return self._client._runner.run(pending)


class _Chat:
    def __init__(self, client: Client) -> None:
        self.completions = _Completions(client)


class _Images:
    def __init__(self, client: Client) -> None:
        self._client = client

    def generate(
        self, *, prompt: str, model: str = "", **params: Unpack[ImageParams]
    ) -> ImagesResponse:
        images = self._client.async_client.images
        return self._client._runner.run(images.generate(prompt=prompt, model=model, **params))

    create = generate

    def edit(
        self, *, image: Any, prompt: str, mask: Any = None, model: str = "", **params: Any
    ) -> ImagesResponse:
        images = self._client.async_client.images
        work = images.edit(image=image, prompt=prompt, mask=mask, model=model, **params)
        return self._client._runner.run(work)

    def create_variation(self, *, image: Any, model: str = "", **params: Any) -> ImagesResponse:
        images = self._client.async_client.images
        return self._client._runner.run(images.create_variation(image=image, model=model, **params))


class _Embeddings:
    def __init__(self, client: Client) -> None:
        self._client = client

    def create(
        self, *, input: Any, model: str = "", **params: Unpack[EmbeddingParams]
    ) -> CreateEmbeddingResponse:
        embeddings = self._client.async_client.embeddings
        return self._client._runner.run(embeddings.create(input=input, model=model, **params))


class _TextCompletions:
    def __init__(self, client: Client) -> None:
        self._client = client

    def create(
        self, *, prompt: Any, model: str = "", stream: bool = False, **params: Any
    ) -> Completion | ChatStream:
        """The legacy text completion (see ``AsyncClient.completions``); a stream yields
        ``Completion`` chunks."""
        completions = self._client.async_client.completions
        result = completions.create(prompt=prompt, model=model, stream=stream, **params)
        if isinstance(result, AsyncChatStream):
            return ChatStream(result, self._client._runner)
        return self._client._runner.run(result)


class _Moderations:
    def __init__(self, client: Client) -> None:
        self._client = client

    def create(
        self, *, input: Any, model: str = "", **params: Unpack[ModerationParams]
    ) -> ModerationCreateResponse:
        moderations = self._client.async_client.moderations
        return self._client._runner.run(moderations.create(input=input, model=model, **params))


class _SyncCall:
    """One ``create`` of an ``AsyncClient`` resource, run to its end on the client's loop."""

    def __init__(self, client: Client, create: Any) -> None:
        self._client = client
        self._create = create

    def create(self, **params: Any) -> Any:
        return self._client._runner.run(self._create(**params))


class _Audio:
    def __init__(self, client: Client) -> None:
        audio = client.async_client.audio
        self.transcriptions = _SyncCall(client, audio.transcriptions.create)
        self.translations = _SyncCall(client, audio.translations.create)
        self.speech = _SyncCall(client, audio.speech.create)


class _Models:
    def __init__(self, client: Client) -> None:
        self._client = client

    def list(self, *, refresh: bool = False) -> ModelList:
        return self._client._runner.run(self._client.async_client.models.list(refresh=refresh))
