"""Providers that speak the OpenAI dialect: ``OpenAICompatible`` (any such server),
``OpenAI`` (the official API) and ``AzureOpenAI``. Other hosts are rows in vendors.py.
"""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from types import MappingProxyType
from typing import Any

import orjson

from ..errors import APIResponseValidationError, ConfigurationError, UnsupportedCapabilityError
from ..transport.base import ByteStream, HttpRequest, require_transport
from ..transport.errors import embedded_error, stray_error
from ..transport.multipart import encode_multipart, form_fields
from ..transport.redact import credential_values, quoted
from ..transport.sse import SSEDecoder
from ..transport.urls import path_segment
from ..types.audio import (
    MAX_SPEECH_BYTES,
    SPEECH_MEDIA_TYPES,
    TEXT_FORMATS,
    TRANSCRIPTION_FIELDS,
    SpeechRequest,
    TranscriptionRequest,
)
from ..types.embeddings import EmbeddingBatch, EmbeddingRequest
from ..types.events import ChatEvent, Finish
from ..types.moderations import ModerationCreateResponse, ModerationRequest
from ..types.request import CallOptions, ChatRequest, ImageRequest, ModelsRequest
from ..types.uploads import FilePart, ImageEditRequest
from .base import MAX_MODEL_LIST_BYTES, Capabilities, GeneratedImage, Provider
from .openai_endpoints import (
    completion_body,
    embedding_batch,
    embedding_body,
    moderation_response,
    text_completion_events,
)
from .openai_wire import Quirks, StreamState, build_chat_body, chunk_events, completion_events

__all__ = ["AzureOpenAI", "OpenAI", "OpenAICompatible"]

_OPEN = Capabilities(
    vision=True, tools=True, json_schema=True, json_object=True, multiple_choices=True
)


def _chunk_events(data: str, state: StreamState, provider: str) -> list[ChatEvent]:
    """One SSE data field -> its events; anything but a well-formed chunk object is a
    validation error (typed errors the host sent inside the chunk pass through)."""
    chunk = chat_chunk(data, provider)
    try:
        return chunk_events(chunk, state, provider)
    except (AttributeError, TypeError, ValueError) as exc:
        raise chunk_shape_error(exc, data, provider) from exc


def chat_chunk(data: str, provider: str) -> dict[str, Any]:
    """One SSE data field of a chat stream as its chunk object (the client's translation and
    the gateway's relay read it alike); anything but a JSON object is a validation error."""
    try:
        chunk = _loads(data)
    except orjson.JSONDecodeError as exc:
        raise APIResponseValidationError(
            f"malformed JSON in the stream: {quoted(data)}", provider=provider
        ) from exc
    if type(chunk) is not dict:
        wrong = TypeError(f"expected an object, got {type(chunk).__name__}")
        raise chunk_shape_error(wrong, data, provider)
    return chunk


def chunk_shape_error(exc: Exception, data: str, provider: str) -> APIResponseValidationError:
    return APIResponseValidationError(
        f"a stream chunk of an unexpected shape ({exc}): {quoted(data)}", provider=provider
    )


_loads = orjson.loads


def _multimodal(items: Any) -> bool:
    """Whether a moderation input is one multimodal item (a list of parts)."""
    return bool(items) and isinstance(items[0], dict)


class OpenAICompatible(Provider):
    """Any server that speaks OpenAI's Chat Completions API at ``base_url``.

    ``AsyncClient(base_url=..., api_key=...)`` uses this, as ``openai.AsyncOpenAI`` would.
    The key is optional (local servers need none) and sent as a Bearer token when given.
    """

    name = "openai-compatible"
    capabilities = _OPEN
    quirks = Quirks()
    #: Extra headers read from environment variables (header name -> variable).
    header_env: Mapping[str, str] = MappingProxyType({})
    #: Whether the host serves ``/images/generations``.
    serves_images = True
    #: Whether the host serves ``/embeddings``, and whether it answers the compact base64
    #: form (cheaper to read than JSON floats; asked for only where known to be served).
    serves_embeddings = True
    embeddings_base64 = False
    #: Whether the host serves the legacy ``/completions`` (a raw prompt, no chat template);
    #: elsewhere ``client.completions`` is translated onto chat.
    serves_completions = True
    #: Whether the host serves ``/moderations`` (OpenAI's own API does).
    serves_moderations = False
    #: Whether the host serves ``/audio/transcriptions`` and ``/audio/translations``, and
    #: ``/audio/speech``.
    serves_transcriptions = True
    serves_speech = True
    #: Which of ``TRANSCRIPTION_FIELDS`` the host takes (OpenAI's own API: all of them).
    transcription_fields: frozenset[str] = TRANSCRIPTION_FIELDS
    requires_base_url = True
    # Chat is one transport call (images in messages go upstream as URLs, never fetched here).
    deadline_in_transport = True

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        name: str | None = None,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(api_key=api_key, base_url=base_url, default_headers=default_headers)
        if name:
            self.name = name

    # -- where and how -----------------------------------------------------------------------
    @property
    def root(self) -> str:
        """The base URL every path is joined to (without a trailing slash)."""
        url = self.resolved_base_url
        if not url:
            raise ConfigurationError(
                f"{self.name} needs a base URL: pass base_url='http://host:port/v1'"
            )
        return url

    def url(self, path: str, model: str | None = None) -> str:
        return f"{self.root}/{path}"

    def headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", **self.default_headers}
        for header, var in self.header_env.items():
            value = os.environ.get(var)
            if value:
                headers.setdefault(header, value)
        key = self.require_api_key() if self.requires_api_key else self.api_key
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _http(
        self,
        method: str,
        path: str,
        options: CallOptions,
        body: Any = None,
        model: str | None = None,
    ) -> HttpRequest:
        return HttpRequest(
            method=method,
            url=self.url(path, model),
            headers=self.headers(),
            json=body,
            options=options,
            provider=self.name,
        )

    @property
    def supports_images(self) -> bool:
        return self.serves_images

    @property
    def supports_image_edits(self) -> bool:
        return self.serves_images

    @property
    def supports_embeddings(self) -> bool:
        return self.serves_embeddings

    @property
    def supports_moderations(self) -> bool:
        return self.serves_moderations

    @property
    def supports_transcriptions(self) -> bool:
        return self.serves_transcriptions

    @property
    def supports_speech(self) -> bool:
        return self.serves_speech

    # -- chat --------------------------------------------------------------------------------
    def chat_request(self, request: ChatRequest, *, stream: bool) -> HttpRequest:
        """``POST /chat/completions`` for this call on this host: what ``stream_chat`` and
        ``complete_chat`` send, and what the gateway's same-dialect relay sends."""
        body = build_chat_body(request, self.quirks, stream=stream)
        http = self._http("POST", "chat/completions", request.options, body, request.model)
        if stream:
            http.headers["Accept"] = "text/event-stream"  # strict hosts answer JSON otherwise
        return http

    def chat_answer(self, payload: Any, http: HttpRequest) -> dict[str, Any]:
        """A whole chat answer's JSON, checked: an object, and no error inside it (the
        error it holds is raised, the request's credentials redacted from it)."""
        if not isinstance(payload, dict):
            raise APIResponseValidationError(
                "expected a chat.completion object", provider=self.name
            )
        if "error" in payload:  # credentials are looked up only for an answer holding one
            error = embedded_error(payload, self.name, credential_values(http.headers))
            if error is not None:
                raise error
        return payload

    def unfinished_stream(self, decoder: SSEDecoder, secrets: tuple[str, ...]) -> Exception:
        """The error of a chat stream that ended without [DONE] or a finish_reason."""
        error = stray_error(decoder.stray, self.name, secrets)
        if error is not None:  # the failure the host wrote outside the SSE framing
            return error
        return APIResponseValidationError(
            "the stream ended without [DONE] or a finish_reason: the answer may be cut short",
            provider=self.name,
        )

    async def stream_chat(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        http = self.chat_request(request, stream=True)
        state = StreamState(credential_values(http.headers))
        decoder = SSEDecoder()
        name = self.name
        async with require_transport(request.options.transport).stream(http) as resp:
            async for piece in resp.iter_bytes():
                for event in decoder.feed(piece):
                    if event.data == "[DONE]":
                        return
                    for item in _chunk_events(event.data, state, name):
                        yield item
            for event in decoder.close():
                if event.data == "[DONE]":
                    return
                for item in _chunk_events(event.data, state, name):
                    yield item
        if not state.finished:
            raise self.unfinished_stream(decoder, state.secrets)

    async def complete_chat(self, request: ChatRequest) -> Sequence[ChatEvent]:
        http = self.chat_request(request, stream=False)
        response = await require_transport(request.options.transport).request(http)
        payload = self.chat_answer(response.json(), http)
        try:
            return completion_events(payload, self.name)
        except (AttributeError, TypeError, ValueError) as exc:
            raise APIResponseValidationError(
                f"a chat.completion of an unexpected shape: {exc}", provider=self.name
            ) from exc

    # -- legacy completions ------------------------------------------------------------------
    def serves_completions_for(self, model: str) -> bool:
        """Whether ``/completions`` serves this model natively (else: translated onto chat)."""
        return self.serves_completions

    async def stream_text_completion(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        """``POST /completions`` streamed: the prompt is the request's one message."""
        body = completion_body(request, stream=True)
        http = self._http("POST", "completions", request.options, body, request.model)
        decoder = SSEDecoder()
        finished = False
        async with require_transport(request.options.transport).stream(http) as resp:
            async for piece in resp.iter_bytes():
                for event in decoder.feed(piece):
                    if event.data == "[DONE]":
                        return
                    for item in self._text_completion_events(event.data):
                        finished = finished or isinstance(item, Finish)
                        yield item
            for event in decoder.close():
                if event.data != "[DONE]":
                    for item in self._text_completion_events(event.data):
                        finished = finished or isinstance(item, Finish)
                        yield item
        if not finished:
            raise APIResponseValidationError(
                "the stream ended without [DONE] or a finish_reason: the answer may be cut short",
                provider=self.name,
            )

    def _text_completion_events(self, data: str) -> list[ChatEvent]:
        try:
            payload = _loads(data)
        except orjson.JSONDecodeError as exc:
            raise APIResponseValidationError(
                f"malformed JSON in the stream: {data[:200]!r}", provider=self.name
            ) from exc
        error = embedded_error(payload, self.name)
        if error is not None:
            raise error
        return text_completion_events(payload, self.name)

    async def complete_text_completion(self, request: ChatRequest) -> Sequence[ChatEvent]:
        body = completion_body(request, stream=False)
        http = self._http("POST", "completions", request.options, body, request.model)
        response = await require_transport(request.options.transport).request(http)
        return text_completion_events(response.json(), self.name)

    # -- audio -------------------------------------------------------------------------------
    def transcription_request(self, request: TranscriptionRequest) -> HttpRequest:
        """``/audio/transcriptions`` (or ``/audio/translations``) as a multipart upload, its
        fields spelled as the OpenAI SDK spells them; a field this host does not take is a
        clear error, not dropped."""
        refused = sorted(set(request.fields) - self.transcription_fields)
        if refused:
            raise UnsupportedCapabilityError(
                f"{self.name} does not take {', '.join(refused)} on audio transcriptions; "
                "leave it out, or use a provider that does (openai, azure)"
            )
        fields = [("model", request.model), ("response_format", request.response_format)]
        for name in ("language", "prompt"):
            value = getattr(request, name)
            if value is not None:
                fields.append((name, value))
        if request.temperature is not None:
            fields.append(("temperature", str(request.temperature)))
        for granularity in request.timestamp_granularities or ():
            fields.append(("timestamp_granularities[]", granularity))
        fields += form_fields(request.fields)
        fields += form_fields(request.extra_body)
        body = encode_multipart(fields, [("file", request.file)])
        path = "audio/translations" if request.translate else "audio/transcriptions"
        accept = "text/event-stream" if request.stream else "*/*"
        headers = {**self.headers(), "Content-Type": body.content_type, "Accept": accept}
        return HttpRequest(
            method="POST",
            url=self.url(path, request.model),
            headers=headers,
            body=body,
            options=request.options,
            provider=self.name,
        )

    async def transcribe(self, request: TranscriptionRequest) -> dict[str, Any] | str:
        http = self.transcription_request(request)
        response = await require_transport(request.options.transport).request(http)
        if request.response_format in TEXT_FORMATS:
            return response.body.decode("utf-8", "replace")
        payload = response.json()
        if not isinstance(payload, dict) or not isinstance(payload.get("text"), str):
            raise APIResponseValidationError(
                "expected a transcription object with text", provider=self.name
            )
        return payload

    def speech(self, request: SpeechRequest) -> AbstractAsyncContextManager[ByteStream]:
        """``/audio/speech``, streamed: the caller reads the audio as it arrives."""
        body: dict[str, Any] = {
            "model": request.model,
            "input": request.input,
            "voice": request.voice,
            "response_format": request.response_format,
        }
        if request.speed is not None:
            body["speed"] = request.speed
        if request.instructions is not None:
            body["instructions"] = request.instructions
        body.update(request.extra_body)
        http = self._http("POST", "audio/speech", request.options, body, request.model)
        http.headers["Accept"] = "*/*"
        return require_transport(request.options.transport).stream(http)

    # -- moderation --------------------------------------------------------------------------
    async def moderate(self, request: ModerationRequest) -> ModerationCreateResponse:
        body: dict[str, Any] = {"input": request.input, **request.extra_body}
        if request.model:
            body["model"] = request.model
        http = self._http("POST", "moderations", request.options, body)
        response = await require_transport(request.options.transport).request(http)
        expected = (
            1
            if isinstance(request.input, str) or _multimodal(request.input)
            else len(request.input)
        )
        return moderation_response(response.json(), expected, self.name)

    # -- embeddings --------------------------------------------------------------------------
    async def embed(self, request: EmbeddingRequest) -> EmbeddingBatch:
        body = embedding_body(request, base64=self.embeddings_base64)
        http = self._http("POST", "embeddings", request.options, body, request.model)
        response = await require_transport(request.options.transport).request(http)
        return embedding_batch(response.json(), len(request.inputs), self.name)

    # -- models ------------------------------------------------------------------------------
    async def list_models(self, request: ModelsRequest) -> list[str]:
        response = await require_transport(request.options.transport).request(
            self._http("GET", "models", request.options), max_bytes=MAX_MODEL_LIST_BYTES
        )
        payload = response.json()
        data = payload.get("data") if isinstance(payload, dict) else payload
        if not isinstance(data, list):
            raise APIResponseValidationError("expected a model list", provider=self.name)
        return [str(m["id"]) for m in data if isinstance(m, dict) and m.get("id")]

    # -- images ------------------------------------------------------------------------------
    def image_body(self, request: ImageRequest) -> dict[str, Any]:
        body: dict[str, Any] = {"prompt": request.prompt, "n": request.n}
        if request.model:
            body["model"] = request.model
        for field in ("size", "quality", "style", "user"):
            value = getattr(request, field)
            if value is not None:
                body[field] = value
        # GPT image models always answer base64 and reject response_format; dall-e takes it.
        if not request.model.startswith("gpt-image"):
            body["response_format"] = request.response_format
        body.update(request.extra_body)
        return body

    async def generate_images(self, request: ImageRequest) -> Sequence[GeneratedImage]:
        if request.model in self.speech_models:
            return [await self._speech(request)]
        if request.images:  # an edit of the given images: OpenAI's /images/edits
            return list(await self.edit_images(await self._as_edit(request)))
        body = self.image_body(request)
        http = self._http("POST", "images/generations", request.options, body, request.model)
        payload = (await require_transport(request.options.transport).request(http)).json()
        return self._images_from(payload)

    def _images_from(self, payload: Any) -> list[GeneratedImage]:
        """An images answer (generations, edits, variations) -> its images."""
        if not isinstance(payload, dict):
            raise APIResponseValidationError("expected an images response", provider=self.name)
        data = payload.get("data", [])  # the spec lets an answer leave data out
        if not isinstance(data, list):
            raise APIResponseValidationError(
                "an images response whose data is not a list", provider=self.name
            )
        images = []
        for item in data:
            revised = item.get("revised_prompt")
            if item.get("b64_json"):
                raw = base64.b64decode(item["b64_json"])
                fmt = payload.get("output_format") or "png"
                images.append(
                    GeneratedImage(data=raw, media_type=f"image/{fmt}", revised_prompt=revised)
                )
            elif item.get("url"):
                images.append(GeneratedImage(url=item["url"], revised_prompt=revised))
        return images

    async def edit_images(self, request: ImageEditRequest) -> Sequence[GeneratedImage]:
        http = self.image_edit_request(request)
        payload = (await require_transport(request.options.transport).request(http)).json()
        return self._images_from(payload)

    def image_edit_request(self, request: ImageEditRequest) -> HttpRequest:
        """``/images/edits`` (or ``/images/variations``) as a multipart upload; several
        input images go as ``image[]``, as the OpenAI SDK sends them."""
        fields = [("n", str(request.n))]
        if request.prompt is not None:
            fields.append(("prompt", request.prompt))
        if request.model:
            fields.append(("model", request.model))
        for name in ("size", "quality", "user"):
            value = getattr(request, name)
            if value is not None:
                fields.append((name, value))
        if not request.model.startswith("gpt-image"):
            fields.append(("response_format", request.response_format))
        fields += form_fields(request.extra_body)
        key = "image" if len(request.images) == 1 else "image[]"
        files = [(key, image) for image in request.images]
        if request.mask is not None:
            files.append(("mask", request.mask))
        body = encode_multipart(fields, files)
        path = "images/variations" if request.variation else "images/edits"
        headers = {**self.headers(), "Content-Type": body.content_type}
        return HttpRequest(
            method="POST",
            url=self.url(path, request.model),
            headers=headers,
            body=body,
            options=request.options,
            provider=self.name,
        )

    #: Speech models of this host (OpenAI's ``/audio/speech``); none unless a host says so.
    speech_models: Sequence[str] = ()
    default_speech_model: str | None = None

    async def _speech(self, request: ImageRequest) -> GeneratedImage:
        """Speech from the prompt (``client.media.generate(text, model="gpt-4o-mini-tts",
        audio={"voice": ...})``): the same ``/audio/speech`` request as
        ``client.audio.speech``; the audio comes back as the generated item's bytes."""
        extra = dict(request.extra_body)
        fmt = extra.pop("format", None)
        fmt = str(extra.pop("response_format", None) or fmt or "mp3")
        speech = SpeechRequest(
            model=request.model,
            input=request.prompt,
            voice=str(extra.pop("voice", None) or "alloy"),
            response_format=fmt,
            speed=extra.pop("speed", None),
            instructions=extra.pop("instructions", None),
            extra_body=extra,
            options=request.options,
        )
        async with self.speech(speech) as stream:
            data = await stream.read(MAX_SPEECH_BYTES, self.name)
            media_type = stream.headers.get("Content-Type", "").split(";")[0]
        media_type = media_type or SPEECH_MEDIA_TYPES.get(fmt, "audio/mpeg")
        return GeneratedImage(data=data, media_type=media_type)

    async def _as_edit(self, request: ImageRequest) -> ImageEditRequest:
        """An image request with input images (g4f's ``media=``) as the edit it asks for;
        images given by URL are fetched (size-capped, checked) to be uploaded."""
        from .fetch_image import fetch_image

        files = []
        for i, ref in enumerate(request.images):
            if ref.data is None:
                assert ref.url is not None
                ref = await fetch_image(ref.url, request)
            media_type = ref.media_type or "image/png"
            name = f"image-{i}.{media_type.rpartition('/')[2] or 'png'}"
            files.append(FilePart(data=ref.data or b"", filename=name, media_type=media_type))
        return ImageEditRequest(
            model=request.model,
            images=files,
            prompt=request.prompt,
            n=request.n,
            size=request.size,
            quality=request.quality,
            response_format=request.response_format,
            user=request.user,
            extra_body=dict(request.extra_body),
            options=request.options,
        )


class OpenAI(OpenAICompatible):
    """OpenAI's official API. ``OPENAI_API_KEY``; ``OPENAI_BASE_URL`` to point elsewhere."""

    name = "openai"
    default_base_url = "https://api.openai.com/v1"
    base_url_env = "OPENAI_BASE_URL"
    api_key_env = ("OPENAI_API_KEY",)
    requires_api_key = True
    quirks = Quirks(developer_role=True, max_completion_tokens=True)
    default_model = "gpt-4o-mini"
    models = (
        "gpt-4o",
        "gpt-4o-mini",
        "gpt-4.1",
        "gpt-4.1-mini",
        "gpt-4.1-nano",
        "o3",
        "o3-mini",
        "o4-mini",
    )
    image_models = ("gpt-image-1", "dall-e-3", "dall-e-2")
    default_image_model = "dall-e-3"
    embedding_models = (
        "text-embedding-3-small",
        "text-embedding-3-large",
        "text-embedding-ada-002",
    )
    embeddings_base64 = True
    #: The models OpenAI still serves on the legacy ``/completions``; its chat models are
    #: translated onto chat.
    completion_models = ("gpt-3.5-turbo-instruct", "davinci-002", "babbage-002")
    serves_moderations = True
    default_moderation_model = "omni-moderation-latest"

    edits_images = True
    image_edit_models = ("gpt-image-1", "dall-e-2")  # what /images/edits takes
    #: Speech models: ``images.generate`` / ``client.media.generate`` with one of these (or
    #: with ``audio={"voice": ...}``) returns speech from OpenAI's ``/audio/speech``.
    speech_models: Sequence[str] = ("gpt-4o-mini-tts", "tts-1", "tts-1-hd")
    default_speech_model = "gpt-4o-mini-tts"
    header_env: Mapping[str, str] = MappingProxyType(
        {"OpenAI-Organization": "OPENAI_ORG_ID", "OpenAI-Project": "OPENAI_PROJECT_ID"}
    )

    def serves_completions_for(self, model: str) -> bool:
        return model in self.completion_models

    def native_request(
        self, method: str, path: str, options: CallOptions, body: Any = None
    ) -> HttpRequest:
        """A request in OpenAI's own API beyond chat (the gateway passes ``/v1/responses``
        through natively when the upstream is OpenAI itself): this provider's URL and key."""
        return self._http(method, path, options, body)


class AzureOpenAI(OpenAICompatible):
    """Azure OpenAI: deployment URLs, ``api-version``, the ``api-key`` header.

    ``base_url`` (or ``AZURE_OPENAI_ENDPOINT``) is the resource endpoint, e.g.
    ``https://my-resource.openai.azure.com``; the model name is the deployment name unless
    ``deployments`` maps it. ``AZURE_OPENAI_API_KEY``; ``OPENAI_API_VERSION`` or ``api_version``.
    """

    name = "azure"
    base_url_env = "AZURE_OPENAI_ENDPOINT"
    api_key_env = ("AZURE_OPENAI_API_KEY",)
    requires_api_key = True
    quirks = Quirks(developer_role=True)
    default_api_version = "2024-10-21"
    embeddings_base64 = True
    serves_completions = False  # deployments are mostly chat models: translated onto chat

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        api_version: str | None = None,
        deployments: Mapping[str, str] | None = None,
        name: str | None = None,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            api_key=api_key, base_url=base_url, name=name, default_headers=default_headers
        )
        self.api_version = (
            api_version or os.environ.get("OPENAI_API_VERSION") or self.default_api_version
        )
        self.deployments = dict(deployments or {})

    def url(self, path: str, model: str | None = None) -> str:
        root = self.root
        if root.endswith("/openai"):
            root = root[: -len("/openai")]
        if model is None:  # account-level endpoints such as models
            return f"{root}/openai/{path}?api-version={self.api_version}"
        deployment = self.deployments.get(model, model)
        if not deployment:
            raise ConfigurationError(
                "Azure OpenAI needs a deployment: pass model='<deployment name>'"
            )
        segment = path_segment(deployment, "the Azure deployment name")
        return f"{root}/openai/deployments/{segment}/{path}?api-version={self.api_version}"

    def headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", **self.default_headers}
        headers["api-key"] = self.require_api_key()
        return headers

    async def list_models(self, request: ModelsRequest) -> list[str]:
        # Azure's model list names base models, not the deployments callers use.
        return list(self.deployments) or list(self.models)
