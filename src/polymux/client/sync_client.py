"""``Client``: the synchronous face of ``AsyncClient``.

It runs the very same async code on a private event loop in a background thread, so it works
where an event loop is already running (a notebook) without patching that loop, and there is
no second copy of any code path. How calls and chunks cross between the threads:
sync_bridge.py.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, overload

from ..types.chat import ChatCompletion
from ..types.completions import Completion
from ..types.embeddings import CreateEmbeddingResponse
from ..types.images import ImagesResponse, ModelList
from ..types.moderations import ModerationCreateResponse
from ..types.request import Timeout
from .async_client import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, AsyncClient
from .g4f import G4FCompletions, G4FSyncImages, G4FSyncModels
from .stream import AsyncChatStream, AsyncEventStream
from .sync_bridge import ChatStream, LoopThread, SyncStream
from .sync_responses import SyncResponses
from .sync_speech import SyncSpeech

if TYPE_CHECKING:
    from typing_extensions import Unpack

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


def _shutdown(runner: LoopThread, client: AsyncClient) -> None:
    runner.stop(client.close())


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
        proxies: str | Mapping[str, str] | None = None,
        media_provider: ProviderSpec = None,
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
            proxies=proxies,
            media_provider=media_provider,
        )
        self._runner = LoopThread()
        self._finalizer = weakref.finalize(self, _shutdown, self._runner, self.async_client)
        self.chat = _Chat(self)
        self.images = _Images(self)
        self.embeddings = _Embeddings(self)
        self.completions = _TextCompletions(self)
        self.moderations = _Moderations(self)
        self.audio = _Audio(self)
        self.media = self.images  # g4f's name for it
        self.models = _Models(self)
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


class _Completions(G4FCompletions):
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

    @overload  # g4f's positional order: create(messages, model, provider, stream, ...)
    def create(self, messages: Any, /, *args: Any, **params: Any) -> Any: ...

    def create(self, *args: Any, **params: Any) -> ChatCompletion | ChatStream:
        result: AsyncChatStream | Awaitable[ChatCompletion]
        result = self._client.async_client.chat.completions.create(*args, **params)
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


class _Images(G4FSyncImages):
    def __init__(self, client: Client) -> None:
        self._client = client

    @overload
    def generate(
        self, *, prompt: str, model: str = "", **params: Unpack[ImageParams]
    ) -> ImagesResponse: ...

    @overload  # g4f's positional order: generate(prompt, model, provider, response_format, proxy)
    def generate(self, prompt: str, /, *args: Any, **params: Any) -> ImagesResponse: ...

    def generate(self, *args: Any, **params: Any) -> ImagesResponse:
        images = self._client.async_client.images
        return self._client._runner.run(images.generate(*args, **params))

    create = generate


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
        result = self._create(**params)
        if isinstance(result, AsyncEventStream):  # stream=True: iterated as it comes
            return SyncStream(result, self._client._runner)
        return self._client._runner.run(result)


class _Audio:
    def __init__(self, client: Client) -> None:
        audio = client.async_client.audio
        self.transcriptions = _SyncCall(client, audio.transcriptions.create)
        self.translations = _SyncCall(client, audio.translations.create)
        self.speech = SyncSpeech(audio.speech, lambda: client._runner)


class _Models(G4FSyncModels):
    def __init__(self, client: Client) -> None:
        self._client = client

    def list(self, *, refresh: bool = False) -> ModelList:
        return self._client._runner.run(self._client.async_client.models.list(refresh=refresh))
