"""Pollinations: text through its OpenAI-compatible endpoint, images through its image endpoint.

Two generations of its API exist (as Pollinations documents them):

- keyless, the legacy hosts: text ``POST https://text.pollinations.ai/openai`` (an OpenAI Chat
  Completions body), images ``GET https://image.pollinations.ai/prompt/{prompt}``;
- the current API, ``https://gen.pollinations.ai``, which asks for a key: text
  ``POST /v1/chat/completions``, images ``GET /image/{prompt}``, key as a Bearer token.

The current API is used when a key is given (``api_key`` or ``POLLINATIONS_API_KEY``) or its
address is (``base_url`` or ``POLLINATIONS_BASE_URL``); otherwise the keyless hosts. The text
side is ``OpenAICompatible`` with other URLs; images are one per call (the client fetches
``n`` concurrently). The prompt goes in the path, URL-encoded; ``size`` becomes
``width``/``height``; ``extra_body`` entries become query parameters (``seed``, ``enhance``,
``negative_prompt``, ``safe``, ``transparent``, ``nologo``, ``private`` ...).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

from ..errors import APIError, APIResponseValidationError, InvalidRequestError
from ..transport.base import HttpRequest, require_transport
from ..transport.redact import redact
from ..types.media import MAX_GENERATED_IMAGE_BYTES
from ..types.request import ImageRequest, ModelsRequest
from .base import MAX_MODEL_LIST_BYTES, Capabilities, GeneratedImage
from .fetch_image import check_image_body
from .openai import OpenAICompatible

__all__ = ["Pollinations"]

#: The longest image URL sent; Pollinations' image host refuses longer ones.
MAX_IMAGE_URL = 4096


def _flag(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _names(payload: Any) -> list[str]:
    """Model ids from any list shape Pollinations has served: names, objects, OpenAI lists."""
    if isinstance(payload, Mapping):
        payload = payload.get("data", payload.get("models"))
    if not isinstance(payload, list):
        raise APIResponseValidationError("expected a model list", provider="pollinations")
    out = []
    for item in payload:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, Mapping) and (item.get("id") or item.get("name")):
            out.append(str(item.get("id") or item.get("name")))
    return out


class Pollinations(OpenAICompatible):
    """Pollinations.AI: keyless text and images, or its current API with a key."""

    name = "pollinations"
    api_key_env = ("POLLINATIONS_API_KEY",)
    requires_api_key = False
    default_base_url = "https://gen.pollinations.ai"
    free_tier = "keyless, rate-limited"
    base_url_env = "POLLINATIONS_BASE_URL"
    capabilities = Capabilities(vision=True, tools=True, json_schema=True, json_object=True)
    default_model = "openai"
    image_models = ("flux", "turbo", "gptimage", "kontext")
    default_image_model = "flux"
    edits_images = True
    image_edit_models = ("kontext", "gptimage")  # the models that take an input image
    images_per_call = 1
    serves_images = True
    #: The keyless (legacy) hosts.
    text_url = "https://text.pollinations.ai"
    image_url = "https://image.pollinations.ai"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        text_url: str | None = None,
        image_url: str | None = None,
        name: str | None = None,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            api_key=api_key, base_url=base_url, name=name, default_headers=default_headers
        )
        if text_url:
            self.text_url = text_url.rstrip("/")
        if image_url:
            self.image_url = image_url.rstrip("/")

    @property
    def uses_current_api(self) -> bool:
        """The current (gen) API when a key or its address is given; else the keyless hosts."""
        return bool(
            self.api_key
            or self.base_url
            or (self.base_url_env and os.environ.get(self.base_url_env))
        )

    def url(self, path: str, model: str | None = None) -> str:
        if self.uses_current_api:
            root = self.root
            return f"{root}/{path}" if root.endswith("/v1") else f"{root}/v1/{path}"
        if path == "chat/completions":
            return f"{self.text_url}/openai"
        return f"{self.text_url}/{path}"

    def _image_root(self) -> str:
        if self.uses_current_api:
            root = self.root
            return root[: -len("/v1")] if root.endswith("/v1") else root
        return self.image_url

    # -- models ------------------------------------------------------------------------------
    async def list_models(self, request: ModelsRequest) -> list[str]:
        transport = require_transport(request.options.transport)
        image_models = (
            f"{self._image_root()}/image/models"
            if self.uses_current_api
            else f"{self.image_url}/models"
        )
        ids: list[str] = []
        for url in (self.url("models"), image_models):
            http = HttpRequest(
                method="GET",
                url=url,
                headers=self.headers(),
                options=request.options,
                provider=self.name,
            )
            response = await transport.request(http, max_bytes=MAX_MODEL_LIST_BYTES)
            ids += _names(response.json())
        return list(dict.fromkeys(ids))

    # -- images ------------------------------------------------------------------------------
    def image_request_url(self, request: ImageRequest) -> str:
        params: dict[str, str] = {"model": request.model or self.default_image_model or "flux"}
        if request.dimensions is not None:
            params["width"], params["height"] = map(str, request.dimensions)
        if request.quality:
            params["quality"] = request.quality
        extra = dict(request.extra_body)
        # A fresh seed per call unless the caller fixed one: the image host caches by URL, so
        # n calls with the same URL would return the same picture n times.
        params["seed"] = _flag(extra.pop("seed", secrets.randbelow(2**31)))
        # Keep generations out of the public feed and unbranded unless asked otherwise.
        params["nologo"] = _flag(extra.pop("nologo", True))
        params["private"] = _flag(extra.pop("private", True))
        for key, value in extra.items():
            if value is not None:
                params[key] = _flag(value)
        if request.images:  # an edit: Pollinations fetches the images to change by URL
            if any(ref.url is None for ref in request.images):
                raise InvalidRequestError(
                    "Pollinations edits images given as http(s) URLs only; pass the image's "
                    "URL, or use an image provider that takes files (Gemini, OpenAI)"
                )
            params["image"] = ",".join(ref.url or "" for ref in request.images)
        prefix = "/image/" if self.uses_current_api else "/prompt/"
        url = f"{self._image_root()}{prefix}{quote(request.prompt, safe='')}?{urlencode(params)}"
        if len(url) > MAX_IMAGE_URL:
            raise InvalidRequestError(
                f"the prompt is too long for Pollinations' image URL ({len(url)} characters, "
                f"limit {MAX_IMAGE_URL}); shorten it"
            )
        return url

    async def generate_images(self, request: ImageRequest) -> Sequence[GeneratedImage]:
        transport = require_transport(request.options.transport)
        url = self.image_request_url(request)
        headers = {**self.headers(), "Accept": "image/*"}
        response = await transport.request(
            HttpRequest(
                method="GET",
                url=url,
                headers=headers,
                options=request.options,
                provider=self.name,
            ),
            max_bytes=MAX_GENERATED_IMAGE_BYTES,
        )
        failure = response.headers.get("x-error-type")
        if failure:
            raise APIError(
                f"Pollinations could not generate the image: {failure}",
                provider=self.name,
                body=redact(response.body[:500].decode("utf-8", "replace")),
            )
        content_type = response.headers.get("Content-Type", "")
        if content_type.startswith("video/"):
            raise APIResponseValidationError(
                f"model {request.model!r} made a video, not an image", provider=self.name
            )
        try:
            media_type = check_image_body(response.body, content_type)
        except APIResponseValidationError as exc:
            raise APIResponseValidationError(exc.message, provider=self.name) from exc
        # The keyless URL serves this very image to anyone (cached by URL, seed included), so
        # callers asking for a URL get it; the keyed API's URL would need the key: bytes only.
        public = None if self.uses_current_api else url
        return [GeneratedImage(url=public, data=response.body, media_type=media_type)]
