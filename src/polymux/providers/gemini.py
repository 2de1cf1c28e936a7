"""Google's Gemini API (Generative Language, ``v1beta``), natively.

``GEMINI_API_KEY`` (or ``GOOGLE_API_KEY``), always sent in the ``x-goog-api-key`` header and
never in the URL, so a key cannot leak into an error message or a log line that shows a URL.
``base_url=`` (or ``GOOGLE_GEMINI_BASE_URL``) points elsewhere. The translation lives in
gemini_wire.py; images in messages given as URLs are downloaded by the guarded downloader
(fetch_image.py) because Gemini takes images only inline.
"""

from __future__ import annotations

import asyncio
import base64
import io
import re
import wave
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import cached_property
from typing import Any
from urllib.parse import quote

import orjson

from ..errors import (
    APIResponseValidationError,
    InvalidRequestError,
)
from ..transport.base import ByteStream, HttpRequest, require_transport
from ..transport.errors import embedded_error, stray_error
from ..transport.multipart import part_bytes
from ..transport.redact import quoted
from ..transport.sse import SSEDecoder
from ..types.audio import SpeechRequest
from ..types.embeddings import EmbeddingBatch, EmbeddingRequest, Vector
from ..types.events import ChatEvent
from ..types.request import CallOptions, ChatRequest, ImageRef, ImageRequest, ModelsRequest
from ..types.uploads import ImageEditRequest
from .base import MAX_MODEL_LIST_BYTES, MAX_MODEL_PAGES, Capabilities, GeneratedImage, Provider
from .fetch_image import fetch_image
from .gemini_stream import StreamState, map_finish_reason
from .gemini_wire import (
    GEMINI_MODELS,
    GeminiModel,
    build_generate_body,
    model_for,
)
from .memory import ToolCallMemory

__all__ = ["Gemini"]

#: Pages of GET /models followed at most.
_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_VERSIONED = re.compile(r"/v\d+(?:alpha|beta)?\d*$")
#: images.generate ``size`` -> Gemini ``imageConfig.aspectRatio`` (the ratios it accepts).
ASPECT_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")


def aspect_ratio(width: int, height: int, choices: Sequence[str] = ASPECT_RATIOS) -> str | None:
    """The accepted aspect ratio (of ``choices``) nearest to width:height (None for 'auto'
    sizes)."""
    if width <= 0 or height <= 0:
        return None
    target = width / height

    def distance(ratio: str) -> float:
        w, h = ratio.split(":")
        return abs(int(w) / int(h) - target)

    return min(choices, key=distance)


class _Whole(ByteStream):
    """Audio decoded from a JSON answer, read as a stream of one piece."""

    def __init__(self, data: bytes, media_type: str) -> None:
        self.status = 200
        self.headers = {"Content-Type": media_type}
        self._data = data

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        yield self._data


def _rate(mime_type: str) -> int:
    """The sample rate of ``audio/L16;codec=pcm;rate=24000`` (24 kHz when unsaid)."""
    for param in mime_type.split(";"):
        key, _, value = param.strip().partition("=")
        if key == "rate" and value.isdigit():
            return int(value)
    return 24000


def _wav(pcm: bytes, rate: int) -> bytes:
    """16-bit mono PCM in a WAV container."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return out.getvalue()


class Gemini(Provider):
    """Gemini models through Google's Generative Language API (not Vertex AI).

    Text, images in, tools, JSON schema output (``responseSchema``), thinking as
    ``reasoning_content``; the image output models ("Nano Banana") serve ``images.generate``.
    This is also the seed's ``Gemini`` provider name.
    """

    name = "gemini"
    api_key_env = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    requires_api_key = True
    default_base_url = "https://generativelanguage.googleapis.com/v1beta"
    free_tier = "free tier of the Gemini API, rate-limited"
    base_url_env = "GOOGLE_GEMINI_BASE_URL"
    capabilities = GEMINI_MODELS[0].capabilities
    default_model = "gemini-2.5-flash"
    models = ("gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.5-flash-lite", "gemini-2.0-flash")
    image_models = ("gemini-2.5-flash-image",)
    default_image_model = "gemini-2.5-flash-image"
    edits_images = True  # its image models take images to change with the prompt
    images_per_call = 1  # one image per generateContent answer
    embedding_models = ("gemini-embedding-001", "text-embedding-004")
    embeddings_per_call = 100  # batchEmbedContents takes at most 100 requests
    #: How model families differ (capabilities, system instructions, image output).
    model_rows: Sequence[GeminiModel] = GEMINI_MODELS

    @cached_property
    def _signatures(self) -> ToolCallMemory[str]:
        """Thought signatures of this provider's tool calls, sent back with them (memory.py)."""
        return ToolCallMemory()

    def capabilities_for(self, model: str) -> Capabilities:
        return model_for(model, self.model_rows).capabilities

    # -- where and how -----------------------------------------------------------------------
    @property
    def root(self) -> str:
        url = self.resolved_base_url or ""
        return url if _VERSIONED.search(url) else url + "/v1beta"

    def model_url(self, model: str, method: str) -> str:
        model_id = model.removeprefix("models/")
        if not _MODEL_ID.match(model_id):
            raise InvalidRequestError(f"{model!r} is not a Gemini model id")
        return f"{self.root}/models/{model_id}:{method}"

    def headers(self) -> dict[str, str]:
        return {
            "Accept": "application/json",
            **self.default_headers,
            "x-goog-api-key": self.require_api_key(),
        }

    def _http(self, method: str, url: str, options: CallOptions, body: Any = None) -> HttpRequest:
        return HttpRequest(
            method=method,
            url=url,
            headers=self.headers(),
            json=body,
            options=options,
            provider=self.name,
        )

    # -- images in messages ------------------------------------------------------------------
    async def download_images(self, request: ChatRequest) -> dict[str, ImageRef]:
        """Bytes of the request's image URLs (Gemini takes images only inline), downloaded
        concurrently through the guarded downloader."""
        urls = list(dict.fromkeys(ref.url for ref in request.images() if ref.url))
        if not urls:
            return {}
        refs = await asyncio.gather(*(fetch_image(url, request) for url in urls))
        return dict(zip(urls, refs))

    async def _body(self, request: ChatRequest) -> dict[str, Any]:
        self.require_api_key()  # before any download
        images = await self.download_images(request)
        return build_generate_body(
            request, images=images, signatures=self._signatures, rows=self.model_rows
        )

    # -- chat --------------------------------------------------------------------------------
    async def stream_chat(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        body = await self._body(request)
        url = self.model_url(request.model, "streamGenerateContent") + "?alt=sse"
        http = self._http("POST", url, request.options, body)
        state = StreamState(self.name)
        decoder = SSEDecoder()
        try:
            async with require_transport(request.options.transport).stream(http) as resp:
                async for piece in resp.iter_bytes():
                    for event in decoder.feed(piece):
                        for item in state.events(self._decode(event.data)):
                            yield item
                for event in decoder.close():
                    for item in state.events(self._decode(event.data)):
                        yield item
        finally:
            self._signatures.remember(state.signatures)
        if not state.finished:
            error = stray_error(decoder.stray, self.name)
            if error is not None:  # the failure the host wrote outside the SSE framing
                raise error
            raise APIResponseValidationError(
                "the stream ended without a finishReason: the answer may be cut short",
                provider=self.name,
            )

    def _decode(self, data: str) -> Mapping[str, Any]:
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise APIResponseValidationError(
                f"malformed JSON in the stream: {quoted(data)}", provider=self.name
            ) from exc
        if isinstance(payload, list):  # an error wrapped in a list
            error = embedded_error(payload, self.name)
            if error is not None:
                raise error
        if not isinstance(payload, dict):
            raise APIResponseValidationError(
                "expected a GenerateContentResponse object", provider=self.name
            )
        return payload

    async def complete_chat(self, request: ChatRequest) -> Sequence[ChatEvent]:
        body = await self._body(request)
        url = self.model_url(request.model, "generateContent")
        response = await require_transport(request.options.transport).request(
            self._http("POST", url, request.options, body)
        )
        state = StreamState(self.name)
        events = list(state.events(self._decode_body(response.json())))
        self._signatures.remember(state.signatures)
        if not state.finished:
            raise APIResponseValidationError(
                "the answer has neither candidates nor a block reason", provider=self.name
            )
        return events

    def _decode_body(self, payload: Any) -> Mapping[str, Any]:
        error = embedded_error(payload, self.name)
        if error is not None:
            raise error
        if not isinstance(payload, dict):
            raise APIResponseValidationError(
                "expected a GenerateContentResponse object", provider=self.name
            )
        return payload

    # -- images ------------------------------------------------------------------------------
    @property
    def supports_images(self) -> bool:
        return bool(self.image_models)

    def serves_image_model(self, model: str) -> bool:
        # Only the image output rows make images; any other name ("dall-e-3") cannot.
        return not model or (
            _MODEL_ID.match(model.removeprefix("models/")) is not None
            and model_for(model, self.model_rows).image_output
        )

    async def generate_images(self, request: ImageRequest) -> Sequence[GeneratedImage]:
        parts: list[dict[str, Any]] = [{"text": request.prompt}]
        for ref in request.images:  # g4f's media=: the images to change, inline (Gemini's way)
            if ref.data is None:
                assert ref.url is not None
                ref = await fetch_image(ref.url, request)
            encoded = base64.b64encode(ref.data or b"").decode("ascii")
            parts.append(
                {"inlineData": {"mimeType": ref.media_type or "image/png", "data": encoded}}
            )
        return await self._images(request, parts, request.dimensions)

    async def edit_images(self, request: ImageEditRequest) -> Sequence[GeneratedImage]:
        """An image model given the input images and the prompt (Gemini edits by what the
        prompt says: it takes no mask, and makes no variation without a prompt)."""
        if request.prompt is None:
            raise InvalidRequestError(
                f"{self.name} makes no image variations; edit with a prompt instead"
            )
        if request.mask is not None:
            raise InvalidRequestError(
                f"{self.name} takes no mask; say in the prompt which part to change"
            )
        # The prompt first, then the images: the order of Google's image-editing examples.
        parts: list[dict[str, Any]] = [{"text": request.prompt}]
        for image in request.images:  # a path given to images.edit is read from disk here
            encoded = base64.b64encode(await part_bytes(image)).decode()
            parts.append({"inlineData": {"mimeType": image.media_type, "data": encoded}})
        w, _, h = (request.size or "").lower().partition("x")
        dimensions = (int(w), int(h)) if w.isdigit() and h.isdigit() else None
        return await self._images(request, parts, dimensions)

    async def _images(
        self,
        request: ImageRequest | ImageEditRequest,
        parts: list[dict[str, Any]],
        dimensions: tuple[int, int] | None,
    ) -> Sequence[GeneratedImage]:
        """One generateContent call of an image model, its images read from the answer."""
        row = model_for(request.model, self.model_rows)
        if not row.image_output:
            raise InvalidRequestError(
                f"{request.model} does not generate images; use an image model such as "
                f"{self.default_image_model}"
            )
        config: dict[str, Any] = {"responseModalities": ["TEXT", "IMAGE"]}
        ratio = aspect_ratio(*dimensions) if dimensions else None
        if ratio:
            config["imageConfig"] = {"aspectRatio": ratio}
        body: dict[str, Any] = {
            "contents": [{"role": "user", "parts": parts}],
            "generationConfig": config,
        }
        body.update(request.extra_body)
        url = self.model_url(request.model, "generateContent")
        response = await require_transport(request.options.transport).request(
            self._http("POST", url, request.options, body)
        )
        payload = self._decode_body(response.json())
        images = [
            GeneratedImage(data=data, media_type=kind)
            for data, kind in self._inline_parts(payload, "image")
        ]
        if not images:
            reason = None
            for candidate in payload.get("candidates") or ():
                reason = candidate.get("finishReason") or reason
            blocked = (payload.get("promptFeedback") or {}).get("blockReason")
            why = f"blocked: {blocked}" if blocked else f"finishReason {reason}"
            if map_finish_reason(reason) == "content_filter" or blocked:
                why += " (content filter)"
            raise APIResponseValidationError(
                f"the answer holds no image ({why})", provider=self.name, body=payload
            )
        return images

    # -- embeddings --------------------------------------------------------------------------
    async def embed(self, request: EmbeddingRequest) -> EmbeddingBatch:
        """``batchEmbedContents``: one request per input; ``dimensions`` is its
        ``outputDimensionality``; ``extra_body`` fields (``taskType``, ``title``) go into
        each. The answer carries no token count (the client estimates it)."""
        if request.tokens:
            raise InvalidRequestError(
                f"{self.name} embeds text only; pass strings, not token arrays"
            )
        url = self.model_url(request.model, "batchEmbedContents")
        name = "models/" + request.model.removeprefix("models/")
        template: dict[str, Any] = {"model": name, **request.extra_body}
        if request.dimensions is not None:
            template["outputDimensionality"] = request.dimensions
        body = {
            "requests": [
                {**template, "content": {"parts": [{"text": text}]}} for text in request.inputs
            ]
        }
        response = await require_transport(request.options.transport).request(
            self._http("POST", url, request.options, body)
        )
        payload = self._decode_body(response.json())
        items = payload.get("embeddings")
        if not isinstance(items, list) or len(items) != len(request.inputs):
            raise APIResponseValidationError(
                f"expected {len(request.inputs)} embeddings", provider=self.name
            )
        vectors: list[Vector] = []
        for item in items:
            values = item.get("values") if isinstance(item, dict) else None
            if not isinstance(values, list):
                raise APIResponseValidationError("an embedding without values", provider=self.name)
            vectors.append(values)
        return EmbeddingBatch(vectors=vectors)

    # -- speech ------------------------------------------------------------------------------
    def speech(self, request: SpeechRequest) -> AbstractAsyncContextManager[ByteStream]:
        """A TTS model's ``generateContent`` answer (16-bit PCM) as ``wav`` or raw ``pcm``;
        ``voice`` is a Gemini voice name (Kore, Puck ...); ``instructions`` lead the text,
        as Gemini's TTS models take their directions in the prompt."""
        if request.response_format not in ("wav", "pcm"):
            raise InvalidRequestError(
                f"{self.name} speaks wav or pcm only, not {request.response_format}"
            )
        if request.speed is not None:
            raise InvalidRequestError(f"{self.name} takes no speed; say it in instructions")
        return self._speech(request)

    @asynccontextmanager
    async def _speech(self, request: SpeechRequest) -> AsyncIterator[ByteStream]:
        text = request.input
        if request.instructions:
            text = f"{request.instructions}: {text}"
        body: dict[str, Any] = {
            "contents": [{"role": "user", "parts": [{"text": text}]}],
            "generationConfig": {
                "responseModalities": ["AUDIO"],
                "speechConfig": {
                    "voiceConfig": {"prebuiltVoiceConfig": {"voiceName": request.voice}}
                },
            },
            **request.extra_body,
        }
        url = self.model_url(request.model, "generateContent")
        response = await require_transport(request.options.transport).request(
            self._http("POST", url, request.options, body)
        )
        payload = self._decode_body(response.json())
        for pcm, kind in self._inline_parts(payload, "audio"):
            if request.response_format == "pcm":
                yield _Whole(pcm, "audio/pcm")
            else:
                yield _Whole(_wav(pcm, _rate(kind)), "audio/wav")
            return
        raise APIResponseValidationError("the answer holds no audio", provider=self.name)

    def _inline_parts(self, payload: Mapping[str, Any], kind: str) -> list[tuple[bytes, str]]:
        """The decoded ``inlineData`` parts of the answer whose media type is ``kind/*``,
        with that media type."""
        found = []
        for candidate in payload.get("candidates") or ():
            for part in (candidate.get("content") or {}).get("parts") or ():
                inline = part.get("inlineData") or {}
                media_type = str(inline.get("mimeType", ""))
                if media_type.startswith(kind + "/"):
                    try:
                        data = base64.b64decode(inline.get("data") or "", validate=True)
                    except ValueError as exc:
                        raise APIResponseValidationError(
                            f"an {kind} part holds invalid base64", provider=self.name
                        ) from exc
                    found.append((data, media_type))
        return found

    # -- models ------------------------------------------------------------------------------
    async def list_models(self, request: ModelsRequest) -> list[str]:
        ids: list[str] = []
        token: str | None = None
        for _ in range(MAX_MODEL_PAGES):
            url = f"{self.root}/models?pageSize=1000"
            if token:
                url += f"&pageToken={quote(token, safe='')}"
            payload = (
                await require_transport(request.options.transport).request(
                    self._http("GET", url, request.options), max_bytes=MAX_MODEL_LIST_BYTES
                )
            ).json()
            models = payload.get("models") if isinstance(payload, dict) else None
            if not isinstance(models, list):
                raise APIResponseValidationError("expected a model list", provider=self.name)
            for model in models:
                if not isinstance(model, dict) or not model.get("name"):
                    continue
                methods = model.get("supportedGenerationMethods")
                if methods is None or "generateContent" in methods:  # chat and image models
                    ids.append(str(model["name"]).removeprefix("models/"))
            token = payload.get("nextPageToken")
            if not token:
                break
        return ids
