"""The provider contract: what a custom provider implements, in as few lines as it needs.

The minimal chat provider is a model list and one async generator::

    class Echo(Provider):
        models = ["echo-1"]

        async def stream_chat(self, request):
            yield "you said: " + request.messages[-1]["content"]

It may yield ``str`` pieces or the typed events of ``polymux.types.events``. Non-streaming
calls fold the same stream unless the provider overrides ``complete_chat`` with a cheaper
upstream call. An image provider implements ``generate_images``. Capabilities are data.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from ..errors import MissingCredentialsError, UnsupportedCapabilityError
from ..transport.base import ByteStream, HttpRequest, require_transport
from ..types.audio import SpeechRequest, TranscriptionRequest
from ..types.embeddings import EmbeddingBatch, EmbeddingRequest
from ..types.events import ChatEvent
from ..types.moderations import ModerationCreateResponse, ModerationRequest
from ..types.request import ChatRequest, ImageRequest, ModelsRequest
from ..types.uploads import ImageEditRequest

__all__ = [
    "MAX_MODEL_LIST_BYTES",
    "MAX_MODEL_PAGES",
    "Capabilities",
    "GeneratedImage",
    "Provider",
]

#: A model list answer is read up to this size (the largest hosts list a few thousand models
#: in well under 1 MB), and a paged list up to this many pages: a host cannot make a listing
#: use unbounded memory or time.
MAX_MODEL_LIST_BYTES = 8 * 1024 * 1024
MAX_MODEL_PAGES = 10


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a provider (or one of its models) can do beyond plain text chat."""

    vision: bool = False
    tools: bool = False
    json_schema: bool = False
    json_object: bool = False
    multiple_choices: bool = False  # n > 1 in one call


@dataclass(frozen=True, slots=True)
class GeneratedImage:
    """One generated image: a URL, or bytes with their media type."""

    url: str | None = None
    data: bytes | None = None
    media_type: str = "image/png"
    revised_prompt: str | None = None


class Provider:
    """Base class of every provider. Subclass it; override what the provider can do."""

    # Class attributes as data; an instance may override any of them (vendor rows do).
    #: Shown in responses (``response.provider``) and errors. Defaults to the class name.
    name: str = ""
    #: Chat models it serves (empty: whatever the caller names is passed through).
    models: Sequence[str] = ()
    default_model: str | None = None
    #: Image generation models it serves.
    image_models: Sequence[str] = ()
    default_image_model: str | None = None
    capabilities: Capabilities = Capabilities()
    #: Most images one ``generate_images`` call returns; the client splits larger ``n``.
    images_per_call: int = 10
    #: Embedding models it serves, and the one used when the caller names none.
    embedding_models: Sequence[str] = ()
    default_embedding_model: str | None = None
    #: Most inputs one ``embed`` call takes (the upstream's batch cap); the client splits
    #: larger inputs into concurrent calls and keeps their order.
    embeddings_per_call: int = 2048
    #: Whether ``generate_images`` edits the request's input images (``request.images``), and
    #: with which models (empty: any image model it serves).
    edits_images: bool = False
    image_edit_models: Sequence[str] = ()
    #: Environment variables that may hold the API key, in order of preference.
    api_key_env: tuple[str, ...] = ()
    #: Whether calls fail without a key (keyless and local providers say False).
    requires_api_key: bool = False
    #: Where an HTTP provider lives unless ``base_url=`` or ``base_url_env`` says otherwise.
    default_base_url: str | None = None
    #: Environment variable that may hold the base URL.
    base_url_env: str | None = None
    #: Whether calls fail without a base URL from one of those (Azure, a bare compatible host).
    requires_base_url: bool = False
    #: What the host gives at no cost, in a few words ("" when nothing): ``polymux providers``
    #: shows it. Limits change; the host's own page has the current ones.
    free_tier: str = ""
    #: Every wait of this provider's chat calls happens inside transport calls made with the
    #: request's options, and a transport enforces ``timeout.total`` over those (its
    #: contract). When it is the only provider of a call, the router then keeps no second
    #: timer for the same deadline.
    deadline_in_transport: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("name"):
            cls.name = cls.__name__

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        # The key is private and never shown: see __repr__.
        self._api_key = api_key
        self.base_url = base_url
        #: Headers an HTTP provider adds to every request it sends.
        self.default_headers: dict[str, str] = dict(default_headers or {})

    def __repr__(self) -> str:
        return f"<{type(self).__name__} provider {self.name!r}>"

    # -- credentials -------------------------------------------------------------------------
    @property
    def api_key(self) -> str | None:
        """The explicit key, else the first set environment variable of ``api_key_env``."""
        if self._api_key:
            return self._api_key
        for var in self.api_key_env:
            value = os.environ.get(var)
            if value:
                return value
        return None

    def require_api_key(self) -> str:
        key = self.api_key
        if not key:
            raise MissingCredentialsError(self.name, env=self.api_key_env)
        return key

    @property
    def resolved_base_url(self) -> str | None:
        """``base_url=``, else the ``base_url_env`` variable, else ``default_base_url``; without
        a trailing slash."""
        url = self.base_url
        if not url:
            env = self.base_url_env
            url = (os.environ.get(env) if env else None) or self.default_base_url
        return url.rstrip("/") if url else None

    #: What to set up when ``is_configured`` is False for want of credentials other than a key.
    credentials_hint: str = ""

    @property
    def is_configured(self) -> bool:
        """Whether a call could be made here without a credentials error."""
        return not self.requires_api_key or bool(self.api_key)

    # -- chat --------------------------------------------------------------------------------
    @property
    def supports_chat(self) -> bool:
        return type(self).stream_chat is not Provider.stream_chat

    @property
    def supports_images(self) -> bool:
        return type(self).generate_images is not Provider.generate_images

    def capabilities_for(self, model: str) -> Capabilities:
        """Capabilities of one model; override when they differ by model."""
        return self.capabilities

    def resolve_model(self, model: str) -> str:
        """The model id to send: the caller's, else the provider's default."""
        if model:
            return model
        return self.default_model or (self.models[0] if self.models else "")

    def resolve_image_model(self, model: str) -> str:
        """The image model id to send: the caller's, else the provider's default."""
        if model:
            return model
        return self.default_image_model or (self.image_models[0] if self.image_models else "")

    def stream_chat(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        """Yield the answer as ``str`` pieces or typed events. Override in chat providers."""
        raise UnsupportedCapabilityError(f"provider {self.name} does not serve chat completions")

    async def complete_chat(self, request: ChatRequest) -> Sequence[ChatEvent]:
        """The whole answer at once. Override only when the upstream has a cheaper
        non-streaming call; by default the client folds ``stream_chat``."""
        return [event async for event in self.stream_chat(request)]

    @property
    def has_native_completion(self) -> bool:
        return type(self).complete_chat is not Provider.complete_chat

    # -- images ------------------------------------------------------------------------------
    def serves_image_model(self, model: str) -> bool:
        """Whether ``generate_images`` can make images with ``model``. True unless the provider
        knows for certain it cannot (most pass any name on to their upstream); the client then
        answers with its default image model instead (client/image_choice.py)."""
        return True

    async def generate_images(
        self, request: ImageRequest
    ) -> Sequence[GeneratedImage | str | bytes]:
        """Generate ``request.n`` images (or fewer: the client calls again for the rest)."""
        raise UnsupportedCapabilityError(f"provider {self.name} does not generate images")

    @property
    def supports_image_edits(self) -> bool:
        return type(self).edit_images is not Provider.edit_images

    async def edit_images(
        self, request: ImageEditRequest
    ) -> Sequence[GeneratedImage | str | bytes]:
        """Edit ``request.images`` by ``request.prompt`` (a variation when the prompt is
        None): ``request.n`` images, or fewer (the client calls again for the rest)."""
        raise UnsupportedCapabilityError(f"provider {self.name} does not edit images")

    # -- embeddings --------------------------------------------------------------------------
    @property
    def supports_embeddings(self) -> bool:
        return type(self).embed is not Provider.embed

    def resolve_embedding_model(self, model: str) -> str:
        """The embedding model id to send: the caller's, else the provider's default."""
        if model:
            return model
        return self.default_embedding_model or (
            self.embedding_models[0] if self.embedding_models else ""
        )

    async def embed(self, request: EmbeddingRequest) -> EmbeddingBatch:
        """One vector per ``request.inputs`` item, in order (at most ``embeddings_per_call``
        inputs). Override in providers that serve embeddings."""
        raise UnsupportedCapabilityError(f"provider {self.name} does not serve embeddings")

    # -- audio -------------------------------------------------------------------------------
    @property
    def supports_transcriptions(self) -> bool:
        return type(self).transcribe is not Provider.transcribe

    @property
    def supports_speech(self) -> bool:
        return type(self).speech is not Provider.speech

    async def transcribe(self, request: TranscriptionRequest) -> dict[str, Any] | str:
        """The transcription (or translation) of ``request.file``: the answer object, or
        its text for the plain-text formats (text, srt, vtt)."""
        raise UnsupportedCapabilityError(f"provider {self.name} does not transcribe audio")

    def image_edit_request(self, request: ImageEditRequest) -> HttpRequest:
        """The image edit as one HTTP request on OpenAI's wire (with ``stream``, its SSE
        answer is read, or relayed by the gateway, as it comes); only OpenAI-wire hosts."""
        raise UnsupportedCapabilityError(
            f"provider {self.name} does not stream image edits; leave stream out"
        )

    def image_edit_stream(
        self, request: ImageEditRequest
    ) -> AbstractAsyncContextManager[ByteStream]:
        """An image edit as it is made (``stream``): the upstream's open SSE response of
        ``image_edit.partial_image`` / ``image_edit.completed`` events (OpenAI's wire)."""
        http = self.image_edit_request(request)
        return require_transport(request.options.transport).stream(http)

    def transcription_request(self, request: TranscriptionRequest) -> HttpRequest:
        """The transcription as one HTTP request on OpenAI's wire (with ``stream``, the
        gateway relays its SSE answer as it comes); only OpenAI-wire hosts have it."""
        raise UnsupportedCapabilityError(
            f"provider {self.name} does not stream transcriptions; leave stream out"
        )

    def transcription_stream(
        self, request: TranscriptionRequest
    ) -> AbstractAsyncContextManager[ByteStream]:
        """A transcription as it is made (``stream``): the upstream's open SSE response of
        ``transcript.text.delta`` / ``transcript.text.done`` events (OpenAI's wire)."""
        http = self.transcription_request(request)
        return require_transport(request.options.transport).stream(http)

    def speech(self, request: SpeechRequest) -> AbstractAsyncContextManager[ByteStream]:
        """Spoken ``request.input``, as an open streamed response (its media type in its
        headers); the client reads it whole or writes it to a file as it arrives."""
        raise UnsupportedCapabilityError(f"provider {self.name} does not speak")

    # -- moderation --------------------------------------------------------------------------
    #: The moderation model used when the caller names none.
    default_moderation_model: str | None = None

    @property
    def supports_moderations(self) -> bool:
        return type(self).moderate is not Provider.moderate

    async def moderate(self, request: ModerationRequest) -> ModerationCreateResponse:
        """Classify ``request.input``: one result per input item, in order."""
        raise UnsupportedCapabilityError(f"provider {self.name} does not serve moderations")

    # -- models ------------------------------------------------------------------------------
    async def list_models(self, request: ModelsRequest) -> list[str]:
        """Model ids this provider serves. HTTP providers ask their upstream."""
        return list(dict.fromkeys([*self.models, *self.image_models, *self.embedding_models]))
