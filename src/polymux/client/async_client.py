"""``AsyncClient``: the OpenAI-shaped facade. It checks input, picks providers, and folds
their events into response objects; the work itself happens in routing/, providers/ and
transport/.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable, Coroutine, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, overload

from ..errors import ConfigurationError, InvalidRequestError, UnsupportedCapabilityError
from ..providers.base import Provider
from ..providers.legacy import LegacyProvider
from ..providers.registry import ProviderSpec, ResolvedProviders, resolve_providers
from ..routing.policy import RoutingOptions, split_spec
from ..routing.router import Router
from ..types.chat import ChatCompletion, ChatCompletionChunk
from ..types.images import ImageEditEvent, ImagesResponse, Model, ModelList
from ..types.request import CallOptions, ChatRequest, ImageRequest, ModelsRequest, Timeout
from .audio import Audio
from .embeddings import Embeddings
from .fold import ResponseFold
from .g4f import (
    KEEP_CONVERSATION,
    REQUIRED,
    G4FCompletions,
    G4FImages,
    G4FModels,
    chat_arguments,
    image_arguments,
    needs_g4f_image,
    proxy_from,
    with_conversation,
)
from .image_choice import builtin_image_providers, image_model_for, serving_first
from .image_edits import edit_images, stream_edit
from .images import finish_images, save_directory
from .moderations import Moderations
from .params import CHAT_KEYS, build_chat_request, build_image_request, build_options
from .responses import Responses
from .stream import AsyncChatStream, AsyncEventStream
from .text_completions import TextCompletions

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ..routing.health import HealthStore
    from ..routing.limits import LimitsSpec
    from ..routing.registry import ModelsSource
    from ..transport.base import Transport
    from .params import ChatParams, ImageParams

__all__ = ["AsyncClient"]

DEFAULT_MAX_RETRIES = 2
DEFAULT_TIMEOUT = Timeout()


class AsyncClient:
    """One client for every chat and image provider.

    ``provider`` is a provider class, instance or registered name, or a list of them tried in
    order. ``image_provider`` defaults to ``provider``. With no provider but a ``base_url``,
    the client talks to that OpenAI-compatible server, as ``openai.AsyncOpenAI`` does.
    ``allow_private_image_urls=True`` lets image URLs that a provider needs as bytes be
    downloaded from private, loopback and link-local addresses (refused by default).

    Routing (polymux.routing): with no provider, ``create(model=...)`` picks the usable
    providers the model registry lists for that model. ``models`` extends the registry (a
    mapping, or a JSON/TOML file path); ``routing`` sets how provider lists are tried
    (shuffle, hedging, extra fallback statuses); ``health`` keeps provider cooldowns (in
    memory by default); ``concurrency`` caps calls in flight per provider.
    """

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
        # g4f's names: proxies= (a URL, or requests' {"https": ...}); media_provider= for
        # image_provider=.
        proxy = proxy or proxy_from(proxies)
        image_provider = image_provider or media_provider
        self._api_key = api_key
        self._base_url = base_url
        if transport is None:
            from ..transport.http import HttpTransport

            self._transport: Transport = HttpTransport()
            self._owns_transport = True
        else:
            self._transport, self._owns_transport = transport, False
        # Every call's options, which carry the transport its provider sends through.
        self.options = build_options(
            CallOptions(
                allow_private_image_urls=allow_private_image_urls, transport=self._transport
            ),
            {"timeout": timeout, "max_retries": max_retries, "proxy": proxy},
            extra_headers=default_headers,
        )
        self.router = Router(models=models, health=health, concurrency=concurrency, options=routing)
        provider, self._routing = split_spec(provider, self.router.options)
        self._providers = self._resolve(provider)
        self._image_providers = self._resolve(image_provider) if image_provider else self._providers
        #: Every configured provider serves chat (so a plain call needs no capability check).
        self._chat_ready = all(p.supports_chat for p in self._providers or ())
        #: A g4f-style provider is configured: its calls take g4f's path (client/g4f.py).
        self._g4f_style = any(isinstance(p, LegacyProvider) for p in self._providers or ())
        self.chat = Chat(self)
        self.images = Images(self)
        self.embeddings = Embeddings(self)
        self.completions = TextCompletions(self)
        self.moderations = Moderations(self)
        self.audio = Audio(self)
        self.media = self.images  # g4f's name for it
        self.models = Models(self)
        self.responses = Responses(self)

    def __repr__(self) -> str:
        names = [p.name for p in self._providers or ()]
        return f"<AsyncClient providers={names}>"

    # -- providers ---------------------------------------------------------------------------
    def _resolve(self, spec: ProviderSpec) -> list[Provider] | None:
        if spec is None:
            if self._base_url is None:
                return None
            spec = "openai-compatible"
        return resolve_providers(spec, api_key=self._api_key, base_url=self._base_url)

    def _providers_for(
        self, spec: ProviderSpec, *, images: bool = False, model: str = ""
    ) -> list[Provider]:
        if spec is not None:
            return resolve_providers(spec, api_key=self._api_key, base_url=self._base_url)
        providers = self._image_providers if images else self._providers
        if providers is None:
            if model and not images:  # route by model name through the registry
                return self.router.providers_for_model(model)
            named = builtin_image_providers(model) if model and images else None
            if named:  # an image model a built-in provider lists (image_choice.py)
                return resolve_providers(named, api_key=self._api_key, base_url=self._base_url)
            raise ConfigurationError(
                "no provider configured: pass provider=... (a name such as 'openai', a Provider "
                "class or instance), a model the registry knows (model='gpt-4o-mini'), or "
                "base_url=... for an OpenAI-compatible server"
            )
        return providers

    def _routing_for(self, spec: ProviderSpec) -> RoutingOptions | None:
        return self._routing if spec is None else split_spec(spec, None)[1]

    @property
    def providers(self) -> list[Provider]:
        """The chat providers of this client, in the order they are tried."""
        return list(self._providers or ())

    # -- transport ---------------------------------------------------------------------------
    @property
    def transport(self) -> Transport:
        """The pooled HTTP transport (its connections are opened on first use)."""
        return self._transport

    async def close(self) -> None:
        """Close the pooled connections. The client may not be used afterwards."""
        if self._owns_transport:
            await self._transport.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- chat --------------------------------------------------------------------------------
    def _chat_providers(self, spec: ProviderSpec, request: ChatRequest) -> list[Provider]:
        providers = self._providers
        if type(spec) is ResolvedProviders:  # resolved once by the caller (gateway routes)
            providers, ready = spec, spec.chat_ready
        elif spec is not None or providers is None:
            providers, ready = self._providers_for(spec, model=request.model), False
        else:
            ready = self._chat_ready
        if ready and _is_plain(request):
            return providers  # every one serves chat, and a plain call asks for nothing more
        usable: list[Provider] = []
        reasons: list[str] = []
        for provider in providers:
            reason = _unsupported(provider, request)
            if reason is None:
                usable.append(provider)
            else:
                reasons.append(reason)
        if not usable:
            raise UnsupportedCapabilityError("; ".join(reasons))
        return usable

    async def _chunks(
        self, providers: Sequence[Provider], request: ChatRequest, routing: RoutingOptions | None
    ) -> AsyncGenerator[ChatCompletionChunk, None]:
        _, selection = await self.router.select(providers, request, routing)
        fold = _fold_for(request, selection.provider)
        async with selection:  # closes the stream and settles the provider's health
            for event in selection.held:
                chunk = fold.apply(event)
                if chunk is not None:
                    yield chunk
                    if fold.done:
                        break
            if selection.rest is not None and not fold.done:
                async for event in selection.rest:
                    chunk = fold.apply(event)
                    if chunk is not None:
                        yield chunk
                        if fold.done:
                            break
        for chunk in fold.close():
            yield chunk

    async def _complete(
        self, providers: Sequence[Provider], request: ChatRequest, routing: RoutingOptions | None
    ) -> ChatCompletion:
        _, selection = await self.router.select(providers, request, routing)
        fold = _fold_for(request, selection.provider)
        async with selection:  # closes the stream and settles the provider's health
            fold.feed(selection.held)
            if selection.rest is not None and not fold.done:
                async for event in selection.rest:
                    fold.apply(event)
                    if fold.done:
                        break
        fold.close()
        return fold.completion()

    # -- images ------------------------------------------------------------------------------
    def _image_providers_for(self, spec: ProviderSpec, model: str = "") -> list[Provider]:
        providers = [
            p for p in self._providers_for(spec, images=True, model=model) if p.supports_images
        ]
        providers = serving_first(providers, model)
        if not providers:
            raise UnsupportedCapabilityError(
                "none of the configured providers generates images; pass image_provider=..."
            )
        return providers

    async def _generate(
        self, providers: Sequence[Provider], request: ImageRequest, save_to: Path | None
    ) -> ImagesResponse:
        async def one_request(provider: Provider, req: ImageRequest) -> Sequence[Any]:
            async with self.router.slot(provider):
                return await provider.generate_images(req)

        chosen: dict[str, str] = {}  # provider name -> the image model it was asked for

        async def call(provider: Provider) -> list[Any]:
            model = image_model_for(provider, request.model, edit=bool(request.images))
            req = replace(request, model=model)
            chosen[provider.name] = req.model
            per_call = max(1, provider.images_per_call)
            sizes = [min(per_call, req.n - i) for i in range(0, req.n, per_call)]
            batches = await asyncio.gather(
                *(one_request(provider, replace(req, n=k)) for k in sizes)
            )
            return [image for batch in batches for image in batch]

        provider, images = await self.router.first(
            providers, lambda provider, _: call(provider), total=request.options.timeout.total
        )
        await self.router.settle(provider.name)
        data = await finish_images(images, request, save_to)
        return ImagesResponse(
            created=int(time.time()),
            data=data,
            provider=provider.name,
            model=chosen.get(provider.name) or None,
        )

    # -- models ------------------------------------------------------------------------------
    async def _list_models(self) -> ModelList:
        providers = list(dict.fromkeys([*(self._providers or ()), *(self._image_providers or ())]))
        request = ModelsRequest(options=self.options)
        # No provider configured: every usable provider the model registry names.
        pairs = await self.router.list_models(providers or None, request)
        return ModelList(data=[Model(id=m, owned_by=p.name, provider=p.name) for p, m in pairs])


def _fold_for(request: ChatRequest, provider: Provider) -> ResponseFold:
    # The response names the provider that answered and the model it was asked for (its
    # default when the caller named none); an upstream ResponseInfo may refine the model.
    return ResponseFold(request, provider.name, provider.resolve_model(request.model))


def _is_plain(request: ChatRequest) -> bool:
    """Whether the request needs no capability beyond chat itself."""
    return not (
        request.response_format or request.tools or (request.n or 1) > 1 or request.has_images
    )


def _unsupported(provider: Provider, request: ChatRequest) -> str | None:
    """Why this provider cannot serve this request, or None when it can."""
    if not provider.supports_chat:
        return f"{provider.name} does not serve chat completions"
    if _is_plain(request):
        return None  # every chat provider serves it
    fmt = (request.response_format or {}).get("type")
    caps = provider.capabilities_for(provider.resolve_model(request.model))
    if request.has_images and not caps.vision:
        need = "does not accept image inputs; use a vision model"
    elif request.tools and not caps.tools:
        need = "does not support tools"
    elif fmt == "json_schema" and not caps.json_schema:
        need = "does not support json_schema response_format"
    elif fmt == "json_object" and not (caps.json_object or caps.json_schema):
        need = "does not support json_object response_format"
    elif (request.n or 1) > 1 and not caps.multiple_choices:
        return f"{provider.name} does not return several choices (n > 1) in one call"
    else:
        return None
    model = request.model or provider.resolve_model("") or "its default model"
    return f"{provider.name} ({model}) {need}"


class Completions(G4FCompletions):
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    @overload
    def create(
        self,
        *,
        model: str = "",
        messages: Any,
        stream: Literal[False] = False,
        **params: Unpack[ChatParams],
    ) -> Coroutine[Any, Any, ChatCompletion]: ...

    @overload
    def create(
        self, *, model: str = "", messages: Any, stream: Literal[True], **params: Unpack[ChatParams]
    ) -> AsyncChatStream: ...

    @overload
    def create(
        self, *, model: str = "", messages: Any, stream: bool, **params: Unpack[ChatParams]
    ) -> Coroutine[Any, Any, ChatCompletion] | AsyncChatStream: ...

    @overload  # g4f's positional order: create(messages, model, provider, stream, ...)
    def create(self, messages: Any, /, *args: Any, **params: Any) -> Any: ...

    def create(
        self,
        *args: Any,
        model: Any = "",
        messages: Any = REQUIRED,
        stream: Any = False,
        **params: Any,
    ) -> Coroutine[Any, Any, ChatCompletion] | AsyncChatStream:
        """Create a chat completion. Input is checked now, before anything is awaited.

        ``stream=False``: await it for a ``ChatCompletion``. ``stream=True``: iterate the
        returned ``AsyncChatStream`` directly, or await it first, as the OpenAI SDK does.
        g4f's positional order and keywords work too (client/g4f.py).
        """
        client = self._client
        # g4f's shapes (client/g4f.py); tested inline: every call pays this check.
        if (
            args
            or messages is REQUIRED
            or type(model) is not str
            or (params and not CHAT_KEYS.issuperset(params))
            or client._g4f_style
        ):
            params = {"model": model, "messages": messages, "stream": stream, **params}
            params = chat_arguments(client, args, params)
            model, messages, stream = (
                params.pop("model"),
                params.pop("messages"),
                params.pop("stream"),
            )
            # g4f-style providers: the conversation they keep comes back on the answer
            keep = params.pop(KEEP_CONVERSATION, REQUIRED)
        else:
            keep = REQUIRED
        request, providers, routing = self.prepare(model, messages, stream, params)
        if stream:
            return AsyncChatStream(client._chunks(providers, request, routing))
        if keep is not REQUIRED:
            return with_conversation(client._complete(providers, request, routing), keep)
        return client._complete(providers, request, routing)

    def prepare(
        self, model: Any, messages: Any, stream: Any, params: Mapping[str, Any]
    ) -> tuple[ChatRequest, list[Provider], RoutingOptions | None]:
        """What ``create`` checks and decides before sending anything: the request, the
        providers that can serve it (refusals raised here) and the routing options. The
        gateway's same-dialect relay (server/chat_relay.py) starts from the same."""
        client = self._client
        request = build_chat_request(model, messages, stream, params, client.options)
        spec = params.get("provider")
        providers = client._chat_providers(spec, request)
        routing = client._routing if spec is None else client._routing_for(spec)
        return request, providers, routing

    def parse(
        self, *, model: str = "", messages: Any, response_format: Any, **params: Any
    ) -> Coroutine[Any, Any, ChatCompletion]:
        """Like ``create``, with ``response_format`` a pydantic model class: the answer is
        asked for in that model's (strict) JSON schema and validated into
        ``choices[i].message.parsed``. A refusal leaves ``parsed`` None; an answer that does
        not validate raises ``StructuredOutputError`` with the raw text."""
        from ..structured import parse_completion, parsed_format

        if "stream" in params:
            raise InvalidRequestError("parse() does not stream; use create(stream=True)")
        fmt = parsed_format(response_format)
        pending = self.create(model=model, messages=messages, response_format=fmt, **params)
        return parse_completion(pending, response_format)


class Chat:
    def __init__(self, client: AsyncClient) -> None:
        self.completions = Completions(client)


class Images(G4FImages):
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    @overload
    def generate(
        self, *, prompt: str, model: str = "", **params: Unpack[ImageParams]
    ) -> Coroutine[Any, Any, ImagesResponse]: ...

    @overload  # g4f's positional order: generate(prompt, model, provider, response_format, proxy)
    def generate(
        self, prompt: str, /, *args: Any, **params: Any
    ) -> Coroutine[Any, Any, ImagesResponse]: ...

    def generate(
        self, *args: Any, prompt: str = REQUIRED, model: str = "", **params: Any
    ) -> Coroutine[Any, Any, ImagesResponse]:
        """Generate images. ``response_format`` "url" or "b64_json"; ``save_to`` a directory
        to also write the files into (their paths are in ``data[i].path``). g4f's positional
        order and keywords work too (client/g4f.py)."""
        client = self._client
        params = dict(params)
        if needs_g4f_image(args, model, prompt, params):
            params = image_arguments(client, args, {"prompt": prompt, "model": model, **params})
            prompt, model = params.pop("prompt"), params.pop("model")
        save_to = params.pop("save_to", None)
        provider = params.pop("provider", None)
        request = build_image_request(model, prompt, params, client.options)
        directory = save_directory(save_to)
        providers = client._image_providers_for(provider, request.model)
        return client._generate(providers, request, directory)

    # The seed's project also calls it create().
    create = generate

    @overload
    def edit(
        self,
        *,
        image: Any,
        prompt: str,
        mask: Any = None,
        model: str = "",
        stream: Literal[True],
        **params: Any,
    ) -> AsyncEventStream[ImageEditEvent]: ...

    @overload
    def edit(
        self,
        *,
        image: Any,
        prompt: str,
        mask: Any = None,
        model: str = "",
        stream: Literal[False] | None = None,
        **params: Any,
    ) -> Coroutine[Any, Any, ImagesResponse] | Awaitable[ImagesResponse]: ...

    def edit(
        self, *, image: Any, prompt: str, mask: Any = None, model: str = "", **params: Any
    ) -> (
        Coroutine[Any, Any, ImagesResponse]
        | Awaitable[ImagesResponse]
        | AsyncEventStream[ImageEditEvent]
    ):
        """Edit ``image`` (bytes, a path, a file, or a list of them) as ``prompt`` says;
        ``mask``: a PNG whose transparent pixels mark what to change. Same parameters and
        answer as ``generate``. Providers with an edits endpoint (OpenAI, Azure, Gemini) take
        it there; otherwise the image providers that take input images with the prompt
        (Pollinations' kontext, g4f-style providers) are asked, as g4f does."""
        if params.get("stream"):  # partial images, then the whole one, as they are made
            return stream_edit(self._client, image, prompt, mask, model, dict(params))
        if mask is None and not self._edit_endpoint(params.get("provider")):
            return G4FImages.edit(self, image=image, prompt=prompt, model=model, **params)
        return edit_images(self._client, image, prompt, mask, model, dict(params))

    def create_variation(
        self,
        image: Any,
        image_name: str | None = None,
        prompt: str | None = None,
        model: str | None = None,
        **params: Any,
    ) -> Coroutine[Any, Any, ImagesResponse] | Awaitable[ImagesResponse]:
        """Variations of ``image``: OpenAI's variations endpoint (dall-e-2) where a provider
        has it; otherwise g4f's way, an edit asking for a variation (``image_name`` and
        ``prompt`` as g4f takes them)."""
        if image_name is None and prompt is None and self._edit_endpoint(params.get("provider")):
            return edit_images(self._client, image, None, None, model or "", dict(params))
        return G4FImages.create_variation(
            self, image, image_name, prompt or "Create a variation of this image", model, **params
        )

    def _edit_endpoint(self, spec: Any) -> bool:
        """Whether an image provider of this call has an edits endpoint of its own."""
        providers = self._client._providers_for(spec, images=True)
        return any(p.supports_image_edits for p in providers)


class Models(G4FModels):
    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._cache: ModelList | None = None

    async def list(self, *, refresh: bool = False) -> ModelList:
        """Models of the configured providers (cached per client; ``refresh=True`` to ask again)."""
        if self._cache is None or refresh:
            self._cache = await self._client._list_models()
        return self._cache
