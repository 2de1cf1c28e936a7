"""Which providers serve a model name the gateway receives, and with which model id.

In order: an alias (one target or a fallback group), ``provider/model`` for a configured
provider, a model a provider declares in its ``models`` list, else the default providers
with the name passed through. Routing itself (trying each in order) is routing/fallback.py's
job: this module only builds the provider list handed to ``AsyncClient``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from ..errors import ConfigurationError
from ..providers.base import Capabilities, GeneratedImage, Provider
from ..providers.registry import ResolvedProviders, load_provider_class
from ..routing.listing import list_models
from ..routing.registry import ModelRegistry
from ..transport.base import ByteStream, HttpRequest, Transport
from ..types.audio import SpeechRequest, TranscriptionRequest
from ..types.embeddings import EmbeddingBatch, EmbeddingRequest
from ..types.events import ChatEvent
from ..types.images import Model
from ..types.moderations import ModerationCreateResponse, ModerationRequest
from ..types.request import CallOptions, ChatRequest, ImageRequest, ModelsRequest, Timeout
from ..types.uploads import ImageEditRequest
from .config import GatewayConfig, ProviderConfig

__all__ = ["Forwarding", "ModelMap", "Pinned", "Route", "Tuned", "build_provider"]

log = logging.getLogger("polymux.server")
_MODELS_TTL = 60.0


class Forwarding(Provider):
    """A provider that passes every call to ``inner`` (base of the two wrappers below)."""

    def __init__(self, inner: Provider) -> None:
        super().__init__()
        self.inner = inner
        self.name = inner.name
        self.capabilities = inner.capabilities
        self.deadline_in_transport = inner.deadline_in_transport
        self.embeddings_per_call = inner.embeddings_per_call
        self.images_per_call = inner.images_per_call  # the client splits n by it

    def resolve_model(self, model: str) -> str:
        return self.inner.resolve_model(model)

    def resolve_image_model(self, model: str) -> str:
        return self.inner.resolve_image_model(model)

    def resolve_embedding_model(self, model: str) -> str:
        return self.inner.resolve_embedding_model(model)

    def capabilities_for(self, model: str) -> Capabilities:
        return self.inner.capabilities_for(model)

    @property
    def supports_chat(self) -> bool:
        return self.inner.supports_chat

    @property
    def supports_images(self) -> bool:
        return self.inner.supports_images

    @property
    def supports_embeddings(self) -> bool:
        return self.inner.supports_embeddings

    @property
    def supports_image_edits(self) -> bool:
        return self.inner.supports_image_edits

    @property
    def supports_moderations(self) -> bool:
        return self.inner.supports_moderations

    @property
    def supports_transcriptions(self) -> bool:
        return self.inner.supports_transcriptions

    @property
    def supports_speech(self) -> bool:
        return self.inner.supports_speech

    def serves_completions_for(self, model: str) -> bool:
        """Whether the legacy ``/completions`` serves the pinned model natively."""
        serves = getattr(self.inner, "serves_completions_for", None)
        return callable(serves) and bool(serves(model))

    async def stream_text_completion(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        async for event in self.inner.stream_text_completion(request):  # type: ignore[attr-defined]
            yield event

    async def complete_text_completion(self, request: ChatRequest) -> Sequence[ChatEvent]:
        events: Sequence[ChatEvent] = await self.inner.complete_text_completion(request)  # type: ignore[attr-defined]
        return events

    @property
    def has_native_completion(self) -> bool:
        return self.inner.has_native_completion

    @property
    def is_configured(self) -> bool:
        return self.inner.is_configured

    def stream_chat(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        return self.inner.stream_chat(request)

    async def complete_chat(self, request: ChatRequest) -> Sequence[ChatEvent]:
        return await self.inner.complete_chat(request)

    def chat_request(self, request: ChatRequest, *, stream: bool) -> HttpRequest:
        """The inner provider's ``POST /chat/completions`` (an OpenAI-wire provider's: the
        gateway's chat relay sends it itself, chat_relay.py)."""
        return self.inner.chat_request(request, stream=stream)  # type: ignore[attr-defined,no-any-return]

    async def generate_images(
        self, request: ImageRequest
    ) -> Sequence[GeneratedImage | str | bytes]:
        return await self.inner.generate_images(request)

    async def embed(self, request: EmbeddingRequest) -> EmbeddingBatch:
        return await self.inner.embed(request)

    async def edit_images(
        self, request: ImageEditRequest
    ) -> Sequence[GeneratedImage | str | bytes]:
        return await self.inner.edit_images(request)

    def image_edit_request(self, request: ImageEditRequest) -> HttpRequest:
        return self.inner.image_edit_request(request)

    async def moderate(self, request: ModerationRequest) -> ModerationCreateResponse:
        return await self.inner.moderate(request)

    async def transcribe(self, request: TranscriptionRequest) -> dict[str, Any] | str:
        return await self.inner.transcribe(request)

    def transcription_request(self, request: TranscriptionRequest) -> HttpRequest:
        return self.inner.transcription_request(request)

    def speech(self, request: SpeechRequest) -> AbstractAsyncContextManager[ByteStream]:
        return self.inner.speech(request)

    async def list_models(self, request: ModelsRequest) -> list[str]:
        return await self.inner.list_models(request)


class Pinned(Forwarding):
    """A provider with its model fixed by an alias: whatever model the caller named (the
    alias), this one is sent upstream."""

    def __init__(self, inner: Provider, model: str) -> None:
        super().__init__(inner)
        self.model = model

    def resolve_model(self, model: str) -> str:
        return self.model or self.inner.resolve_model("")

    def resolve_image_model(self, model: str) -> str:
        return self.model or self.inner.resolve_image_model("")

    def resolve_embedding_model(self, model: str) -> str:
        return self.model or self.inner.resolve_embedding_model("")


R = TypeVar(
    "R",
    ChatRequest,
    ImageRequest,
    ModelsRequest,
    EmbeddingRequest,
    ImageEditRequest,
    ModerationRequest,
    TranscriptionRequest,
    SpeechRequest,
)


class Tuned(Forwarding):
    """A provider with its own connect, first-byte and idle limits ([providers.X] in the
    gateway config): every request it is handed carries them instead of the gateway's."""

    def __init__(self, inner: Provider, spec: ProviderConfig) -> None:
        super().__init__(inner)
        self._limits = {
            key: value
            for key, value in (
                ("connect", spec.connect_timeout),
                ("first_byte", spec.first_byte_timeout),
                ("idle", spec.idle_timeout),
            )
            if value is not None
        }

    def _tuned(self, request: R) -> R:
        options = request.options
        timeout = replace(options.timeout, **self._limits)
        return replace(request, options=replace(options, timeout=timeout))

    def stream_chat(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        return self.inner.stream_chat(self._tuned(request))

    async def complete_chat(self, request: ChatRequest) -> Sequence[ChatEvent]:
        return await self.inner.complete_chat(self._tuned(request))

    async def generate_images(
        self, request: ImageRequest
    ) -> Sequence[GeneratedImage | str | bytes]:
        return await self.inner.generate_images(self._tuned(request))

    async def stream_text_completion(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        async for event in super().stream_text_completion(self._tuned(request)):
            yield event

    async def complete_text_completion(self, request: ChatRequest) -> Sequence[ChatEvent]:
        return await super().complete_text_completion(self._tuned(request))

    async def embed(self, request: EmbeddingRequest) -> EmbeddingBatch:
        return await self.inner.embed(self._tuned(request))

    async def edit_images(
        self, request: ImageEditRequest
    ) -> Sequence[GeneratedImage | str | bytes]:
        return await self.inner.edit_images(self._tuned(request))

    def image_edit_request(self, request: ImageEditRequest) -> HttpRequest:
        return self.inner.image_edit_request(self._tuned(request))

    def chat_request(self, request: ChatRequest, *, stream: bool) -> HttpRequest:
        return super().chat_request(self._tuned(request), stream=stream)

    async def moderate(self, request: ModerationRequest) -> ModerationCreateResponse:
        return await self.inner.moderate(self._tuned(request))

    async def transcribe(self, request: TranscriptionRequest) -> dict[str, Any] | str:
        return await self.inner.transcribe(self._tuned(request))

    def transcription_request(self, request: TranscriptionRequest) -> HttpRequest:
        return self.inner.transcription_request(self._tuned(request))

    def speech(self, request: SpeechRequest) -> AbstractAsyncContextManager[ByteStream]:
        return self.inner.speech(self._tuned(request))

    async def list_models(self, request: ModelsRequest) -> list[str]:
        return await self.inner.list_models(self._tuned(request))


def build_provider(spec: ProviderConfig) -> Provider:
    """A provider instance from its config. The key stays in the environment: the instance
    reads the named variable when it sends a request."""
    cls = load_provider_class(spec.type)
    kwargs: dict[str, Any] = dict(spec.options)
    if spec.base_url:
        kwargs["base_url"] = spec.base_url
    try:
        provider = cls(**kwargs)
    except TypeError as exc:
        raise ConfigurationError(f"provider {spec.name!r} ({spec.type}): {exc}") from None
    provider.name = spec.name
    if spec.api_key_env:
        provider.api_key_env = (spec.api_key_env,)
        if not os.environ.get(spec.api_key_env):
            log.warning(
                "provider %s: environment variable %s is not set", spec.name, spec.api_key_env
            )
    return provider


# Not frozen: a frozen dataclass's __init__ sets each field through object.__setattr__,
# half the cost of the route lookup every request makes.
@dataclass(slots=True)
class Route:
    providers: list[Provider]
    #: The model name to pass to the client (the alias itself for pinned providers).
    model: str


class ModelMap:
    def __init__(self, config: GatewayConfig) -> None:
        self.providers: dict[str, Provider] = {}
        for spec in config.providers:
            provider = build_provider(spec)
            if spec.connect_timeout or spec.first_byte_timeout or spec.idle_timeout:
                provider = Tuned(provider, spec)
            self.providers[spec.name] = provider
        if not self.providers:
            raise ConfigurationError(
                "no provider configured: pass --provider NAME, or --base-url URL for an "
                "OpenAI-compatible server, or a config file with [providers.NAME] tables"
            )
        first = next(iter(self.providers))
        # Every route's provider list is made once here (ResolvedProviders): a call passes
        # it on as provider= and the client takes it as it is.
        self.default = ResolvedProviders(self.providers[n] for n in (config.default or (first,)))
        self._alone = {name: ResolvedProviders([p]) for name, p in self.providers.items()}
        self.aliases: dict[str, list[Provider]] = {}
        for alias, targets in config.aliases.items():
            pinned: list[Provider] = []
            for target in targets:
                name, _, model = target.partition("/")
                pinned.append(Pinned(self.providers[name], model))
            self.aliases[alias] = ResolvedProviders(pinned)
        declared: dict[str, list[Provider]] = {}
        for spec in config.providers:
            for model in spec.models:
                declared.setdefault(model, []).append(self.providers[spec.name])
        self.declared: dict[str, list[Provider]] = {
            model: ResolvedProviders(providers) for model, providers in declared.items()
        }
        self._declared_by = {spec.name: spec.models for spec in config.providers}
        self._models: list[Model] | None = None
        self._models_at = 0.0
        self._models_lock = asyncio.Lock()
        self._models_timeout = config.models_timeout

    def serves(self, model: str) -> str | None:
        """The provider that owns ``model`` when the config routes it by name (an alias, a
        ``provider/model`` of a configured provider, a declared model); else None."""
        if model in self.aliases:
            return "polymux"
        prefix, slash, rest = model.partition("/")
        if slash and rest and prefix in self.providers:
            return prefix
        declared = self.declared.get(model)
        return declared[0].name if declared else None

    def route(self, model: str) -> Route:
        aliased = self.aliases.get(model)
        if aliased is not None:
            # No model name for the client: an alias named like a registry model ("gpt-4o")
            # would be mapped to the registry's id for the provider; each pinned provider
            # sends its own target instead.
            return Route(aliased, "")
        prefix, slash, rest = model.partition("/")
        if slash and prefix in self.providers:
            return Route(self._alone[prefix], rest)
        declared = self.declared.get(model)
        if declared is not None:
            return Route(declared, model)
        return Route(self.default, model)

    # -- model list ----------------------------------------------------------------------------
    async def models(self, transport: Transport, options: CallOptions) -> list[Model]:
        """Every provider's models (``provider/id`` when there are several providers) and the
        aliases. Cached for a minute; a provider whose list fails is left out and logged."""
        async with self._models_lock:
            now = time.monotonic()
            if self._models is None or now - self._models_at > _MODELS_TTL:
                self._models = await self._fetch_models(transport, options)
                self._models_at = now
            return self._models

    async def _fetch_models(self, transport: Transport, options: CallOptions) -> list[Model]:
        # Its own short limit, no retries: one stalled provider must not make every caller
        # of GET /v1/models wait; it is left out of the list instead.
        seconds = self._models_timeout
        timeout = Timeout(total=seconds, connect=min(seconds, options.timeout.connect or seconds))
        request = ModelsRequest(
            options=replace(options, timeout=timeout, max_retries=0, transport=transport)
        )
        providers = list(self.providers.values())
        # The one listing routine: failed providers are left out; when all fail, the error is
        # raised only if the gateway has nothing of its own (aliases, declared models) to show.
        has_own = bool(self.aliases) or any(self._declared_by.values())
        pairs = await list_models(ModelRegistry(), providers, request, skip_failures=has_own)
        reported: dict[str, list[str]] = {p.name: [] for p in providers}
        for provider, model_id in pairs:
            reported[provider.name].append(model_id)
        several = len(providers) > 1
        out: list[Model] = [Model(id=alias, owned_by="polymux") for alias in self.aliases]
        seen = {m.id for m in out}
        for name, ids in reported.items():
            for model_id in dict.fromkeys([*self._declared_by[name], *ids]):
                shown = f"{name}/{model_id}" if several else model_id
                if shown not in seen:
                    seen.add(shown)
                    out.append(Model(id=shown, owned_by=name, provider=name))
        return out
