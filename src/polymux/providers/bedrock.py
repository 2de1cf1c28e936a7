"""AWS Bedrock through its Converse and ConverseStream APIs, natively.

Authentication: a Bedrock API key (``AWS_BEARER_TOKEN_BEDROCK``, or ``api_key=``) sent as a
Bearer token; else SigV4 signing with AWS credentials (aws.py: the environment, the shared
credentials file and profile). The region comes from ``region=``, ``AWS_REGION`` /
``AWS_DEFAULT_REGION`` or the profile's config; ``base_url=`` (or ``BEDROCK_BASE_URL``)
points elsewhere (a VPC endpoint, a test server). Streams arrive in AWS's binary event-stream
framing (transport/eventstream.py). The translation lives in bedrock_wire.py.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Mapping, Sequence
from functools import cached_property
from typing import Any
from urllib.parse import quote

import orjson

from ..errors import (
    APIError,
    APIResponseValidationError,
    ConfigurationError,
    InvalidRequestError,
    MissingCredentialsError,
)
from ..transport.base import HttpRequest, require_transport
from ..transport.eventstream import EventStreamDecoder
from ..types.events import ChatEvent
from ..types.request import CallOptions, ChatRequest, ImageRef, ImageRequest
from .aws import Credentials, load_credentials, load_region, sign_v4
from .base import Capabilities, GeneratedImage, Provider
from .bedrock_wire import StreamState, build_converse_body, converse_events, exception_error
from .fetch_image import fetch_image
from .gemini import aspect_ratio
from .memory import ToolCallMemory

__all__ = ["Bedrock"]

#: Aspect ratios Stability's models on Bedrock accept.
STABILITY_RATIOS = ("16:9", "1:1", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21")


class Bedrock(Provider):
    """Every model family Bedrock serves through Converse: Claude, Llama, Mistral, Nova,
    Cohere ... Text, images, tools, stop sequences, reasoning (Claude's extended thinking
    through ``reasoning_effort``, sent back signed with its tool calls)."""

    name = "bedrock"
    api_key_env = ("AWS_BEARER_TOKEN_BEDROCK",)
    credentials_hint = (
        "set AWS_BEARER_TOKEN_BEDROCK, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
        "or a profile in ~/.aws/credentials"
    )
    base_url_env = "BEDROCK_BASE_URL"
    capabilities = Capabilities(vision=True, tools=True, json_schema=True, json_object=True)
    default_model = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    models = (
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "us.anthropic.claude-haiku-4-5-20251001-v1:0",
        "us.amazon.nova-pro-v1:0",
        "us.amazon.nova-lite-v1:0",
        "us.meta.llama3-3-70b-instruct-v1:0",
        "mistral.mistral-large-2407-v1:0",
        "cohere.command-r-plus-v1:0",
    )
    image_models = (
        "amazon.nova-canvas-v1:0",
        "amazon.titan-image-generator-v2:0",
        "stability.sd3-5-large-v1:0",
        "stability.stable-image-ultra-v1:1",
    )
    default_image_model = "amazon.nova-canvas-v1:0"
    images_per_call = 5  # Nova Canvas and Titan make up to 5; Stability makes 1 a call
    deadline_in_transport = False  # images in messages are downloaded first

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        default_headers: Mapping[str, str] | None = None,
        region: str | None = None,
        profile: str | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        super().__init__(api_key=api_key, base_url=base_url, default_headers=default_headers)
        self._region = region
        self._profile = profile
        self._credentials = credentials

    @cached_property
    def _reasoning(self) -> ToolCallMemory[list[dict[str, Any]]]:
        """Signed reasoning blocks behind this provider's tool calls (memory.py)."""
        return ToolCallMemory()

    # -- where and how -----------------------------------------------------------------------
    @property
    def region(self) -> str:
        region = self._region or load_region(self._profile)
        if not region:
            raise ConfigurationError(
                "Bedrock needs a region: set AWS_REGION, pass region=, or give the profile one"
            )
        return region

    @property
    def root(self) -> str:
        return self.resolved_base_url or f"https://bedrock-runtime.{self.region}.amazonaws.com"

    @property
    def is_configured(self) -> bool:
        return bool(self.api_key) or self._signing_credentials() is not None

    def _signing_credentials(self) -> Credentials | None:
        return self._credentials or load_credentials(self._profile)

    def _http(self, url: str, body: Mapping[str, Any], options: CallOptions) -> HttpRequest:
        raw = orjson.dumps(body)
        headers = {"Content-Type": "application/json", **self.default_headers}
        token = self.api_key
        if token:
            headers["Authorization"] = f"Bearer {token}"
        else:
            credentials = self._signing_credentials()
            if credentials is None:
                raise MissingCredentialsError(
                    self.name,
                    env=("AWS_BEARER_TOKEN_BEDROCK", "AWS_ACCESS_KEY_ID", "AWS_PROFILE"),
                )
            headers |= sign_v4(
                "POST", url, headers, raw, credentials, region=self.region, service="bedrock"
            )
        return HttpRequest(
            method="POST", url=url, headers=headers, body=raw, options=options, provider=self.name
        )

    def model_url(self, model: str, action: str) -> str:
        # Model ids and ARNs hold ':' and '/': one path segment, so '/' is encoded. ':' is
        # sent as is, the way HTTP stacks (yarl) normalize it anyway: the path signed must be
        # the path sent, byte for byte.
        if model in ("", ".", ".."):  # would name another path, not a model
            raise InvalidRequestError(f"{model!r} is not a Bedrock model id or ARN")
        return f"{self.root}/model/{quote(model, safe=':')}/{action}"

    async def _body(self, request: ChatRequest) -> dict[str, Any]:
        urls = list(dict.fromkeys(ref.url for ref in request.images() if ref.url))
        images: dict[str, ImageRef] = {}
        if urls:
            refs = await asyncio.gather(*(fetch_image(url, request) for url in urls))
            images = dict(zip(urls, refs))
        return build_converse_body(request, images=images, reasoning=self._reasoning)

    # -- chat --------------------------------------------------------------------------------
    async def stream_chat(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        http = self._http(
            self.model_url(request.model, "converse-stream"),
            await self._body(request),
            request.options,
        )
        state = StreamState(self.name, json_tool=request.response_format is not None)
        decoder = EventStreamDecoder(provider=self.name)
        try:
            async with require_transport(request.options.transport).stream(http) as resp:
                async for piece in resp.iter_bytes():
                    for message in decoder.feed(piece):
                        kind = message.message_type
                        if kind == "exception":
                            raise exception_error(
                                str(message.headers.get(":exception-type", "exception")),
                                message.payload,
                                self.name,
                            )
                        if kind == "error":
                            code = str(message.headers.get(":error-code", "error"))
                            text = str(message.headers.get(":error-message", ""))
                            raise exception_error(code, orjson.dumps({"message": text}), self.name)
                        try:
                            payload = orjson.loads(message.payload) if message.payload else {}
                        except orjson.JSONDecodeError as exc:
                            raise APIResponseValidationError(
                                f"malformed JSON in event {message.event_type}", provider=self.name
                            ) from exc
                        for item in state.events(message.event_type, payload):
                            yield item
                decoder.close()
        finally:
            self._reasoning.remember(state.remembered())
        if not state.finished:
            raise APIResponseValidationError(
                "the stream ended before messageStop: the answer may be cut short",
                provider=self.name,
            )

    # -- images ------------------------------------------------------------------------------
    @staticmethod
    def image_body(request: ImageRequest) -> dict[str, Any]:
        """The InvokeModel body of an image model: Stability's own, or the one Nova Canvas
        and Titan Image Generator share."""
        dimensions = request.dimensions
        if request.model.startswith("stability."):
            body: dict[str, Any] = {"prompt": request.prompt, "output_format": "png"}
            ratio = aspect_ratio(*dimensions, choices=STABILITY_RATIOS) if dimensions else None
            if ratio:
                body["aspect_ratio"] = ratio
        else:
            config: dict[str, Any] = {"numberOfImages": request.n}
            if dimensions:
                config["width"], config["height"] = dimensions
            if request.quality is not None:
                config["quality"] = "premium" if request.quality in ("hd", "high") else "standard"
            body = {
                "taskType": "TEXT_IMAGE",
                "textToImageParams": {"text": request.prompt},
                "imageGenerationConfig": config,
            }
        body.update(request.extra_body)
        return body

    async def generate_images(self, request: ImageRequest) -> Sequence[GeneratedImage]:
        http = self._http(
            self.model_url(request.model, "invoke"), self.image_body(request), request.options
        )
        payload = (await require_transport(request.options.transport).request(http)).json()
        if isinstance(payload, dict) and payload.get("error"):
            raise APIError(f"Bedrock: {payload['error']}", provider=self.name, body=payload)
        images = payload.get("images") if isinstance(payload, dict) else None
        if not isinstance(images, list) or not images:
            reasons = payload.get("finish_reasons") if isinstance(payload, dict) else None
            raise APIResponseValidationError(
                f"the answer holds no image (finish reasons: {reasons})", provider=self.name
            )
        reasons = payload.get("finish_reasons") or [None] * len(images)
        out = []
        for data, reason in zip(images, reasons):
            if reason:  # Stability names a filter that withheld this image
                raise APIError(f"Bedrock withheld the image: {reason}", provider=self.name)
            try:
                out.append(GeneratedImage(data=base64.b64decode(data, validate=True)))
            except (ValueError, TypeError) as exc:
                raise APIResponseValidationError(
                    "an image holds invalid base64", provider=self.name
                ) from exc
        return out

    async def complete_chat(self, request: ChatRequest) -> Sequence[ChatEvent]:
        http = self._http(
            self.model_url(request.model, "converse"), await self._body(request), request.options
        )
        payload = (await require_transport(request.options.transport).request(http)).json()
        if not isinstance(payload, dict) or not isinstance(payload.get("output"), dict):
            raise APIResponseValidationError("expected a Converse answer", provider=self.name)
        state = StreamState(self.name, json_tool=request.response_format is not None)
        events = converse_events(payload, state)
        self._reasoning.remember(state.remembered())
        return events
