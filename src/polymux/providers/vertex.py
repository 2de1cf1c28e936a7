"""Google Vertex AI: Gemini (``vertex``) and Anthropic's Claude (``vertex-anthropic``), each
through the dialect it shares with the direct API (gemini_wire.py, anthropic_wire.py), with
Vertex's URLs, project and location, and OAuth2 tokens (google_auth.py) instead of API keys.

Project: ``project=``, else ``GOOGLE_CLOUD_PROJECT`` (or ``GCLOUD_PROJECT``), else the
credentials file's. Location: ``location=``, else ``GOOGLE_CLOUD_LOCATION`` (Claude also reads
``CLOUD_ML_REGION``, as Anthropic's SDK does), else each provider's default; ``global`` is the
global endpoint. Credentials: ``credentials=`` / ``credentials_file=``, else
``GOOGLE_APPLICATION_CREDENTIALS``, else gcloud's Application Default Credentials; or an
access token as ``api_key=``. ``base_url=`` replaces the endpoint's host (a test server, a
private endpoint).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from ..errors import ConfigurationError, InvalidRequestError
from ..transport.base import HttpRequest, require_transport
from ..types.request import CallOptions, ChatRequest, ImageRequest, ModelsRequest
from .anthropic import Anthropic
from .anthropic_wire import build_messages_body
from .base import GeneratedImage
from .gemini import _MODEL_ID, Gemini
from .gemini_wire import build_generate_body
from .google_auth import GoogleCredentials, load_google_credentials

__all__ = ["VertexAnthropic", "VertexGemini"]

#: The ``anthropic_version`` Claude on Vertex takes in the body (the model is in the URL).
VERTEX_ANTHROPIC_VERSION = "vertex-2023-10-16"


class _Vertex:
    """Where a Vertex call goes and the token it carries; shared by both providers."""

    name: str
    base_url: str | None
    default_headers: dict[str, str]
    _api_key: str | None
    default_location = "us-central1"
    location_env: tuple[str, ...] = ("GOOGLE_CLOUD_LOCATION",)
    publisher = "google"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        default_headers: Mapping[str, str] | None = None,
        project: str | None = None,
        location: str | None = None,
        credentials: GoogleCredentials | None = None,
        credentials_file: str | None = None,
    ) -> None:
        # The next class in line is the provider (Gemini or Anthropic), then Provider.
        super().__init__(  # type: ignore[call-arg]
            api_key=api_key, base_url=base_url, default_headers=default_headers
        )
        self._project = project
        self._location = location
        self._credentials = credentials
        self._credentials_file = credentials_file

    credentials_hint = (
        "set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, or run "
        "`gcloud auth application-default login`"
    )

    @property
    def is_configured(self) -> bool:
        if self._api_key or self._credentials is not None:
            return True
        try:
            self._credentials = load_google_credentials(self._credentials_file)
        except ConfigurationError:
            return False
        return True

    @property
    def credentials(self) -> GoogleCredentials:
        if self._credentials is None:
            self._credentials = load_google_credentials(self._credentials_file)
        return self._credentials

    @property
    def project(self) -> str:
        project = (
            self._project
            or os.environ.get("GOOGLE_CLOUD_PROJECT")
            or os.environ.get("GCLOUD_PROJECT")
            or (None if self._api_key else self.credentials.project_id)
        )
        if not project:
            raise ConfigurationError(
                f"{self.name} needs a Google Cloud project: set GOOGLE_CLOUD_PROJECT or pass "
                "project="
            )
        return project

    @property
    def location(self) -> str:
        for var in self.location_env:
            value = os.environ.get(var)
            if value:
                return self._location or value
        return self._location or self.default_location

    @property
    def root(self) -> str:
        if self.base_url:
            return self.base_url.rstrip("/")
        location = self.location
        host = "aiplatform.googleapis.com"
        return f"https://{host if location == 'global' else f'{location}-{host}'}"

    def vertex_url(self, model: str, method: str) -> str:
        model_id = model.removeprefix("models/")
        if not _MODEL_ID.match(model_id.replace("@", "-")):
            raise InvalidRequestError(f"{model!r} is not a Vertex AI model id")
        project, location = quote(self.project, safe=""), quote(self.location, safe="")
        return (
            f"{self.root}/v1/projects/{project}/locations/{location}/publishers/"
            f"{self.publisher}/models/{quote(model_id, safe='@')}:{method}"
        )

    async def _bearer(self, request: Any) -> str:
        if self._api_key:
            return self._api_key
        return await self.credentials.access_token(
            require_transport(request.options.transport), request.options
        )

    def _vertex_http(
        self, url: str, token: str, options: CallOptions, body: Any = None, method: str = "POST"
    ) -> HttpRequest:
        headers = {
            "Accept": "application/json",
            **self.default_headers,
            "Authorization": f"Bearer {token}",
        }
        return HttpRequest(
            method=method, url=url, headers=headers, json=body, options=options, provider=self.name
        )


class VertexGemini(_Vertex, Gemini):
    """Gemini models on Vertex AI (``generateContent`` under a project and location)."""

    name = "vertex"
    # Tokens, not keys: the Gemini API's key variables and base URL do not apply here.
    requires_api_key = False
    free_tier = ""

    _token = ""  # the token of the call under way (every call of this identity shares it)

    def model_url(self, model: str, method: str) -> str:
        return self.vertex_url(model, method)

    def headers(self) -> dict[str, str]:
        return {
            "Accept": "application/json",
            **self.default_headers,
            "Authorization": f"Bearer {self._token}",
        }

    def _http(self, method: str, url: str, options: CallOptions, body: Any = None) -> HttpRequest:
        return self._vertex_http(url, self._token, options, body, method)

    async def _body(self, request: ChatRequest) -> dict[str, Any]:
        self._token = await self._bearer(request)
        images = await self.download_images(request)
        return build_generate_body(
            request, images=images, signatures=self._signatures, rows=self.model_rows
        )

    async def generate_images(self, request: ImageRequest) -> Sequence[GeneratedImage]:
        self._token = await self._bearer(request)
        return await super().generate_images(request)

    async def list_models(self, request: ModelsRequest) -> list[str]:
        # Vertex lists publisher models elsewhere, per publisher; the known ones serve here.
        return list(dict.fromkeys([*self.models, *self.image_models]))


class VertexAnthropic(_Vertex, Anthropic):
    """Anthropic's Claude on Vertex AI (``rawPredict`` / ``streamRawPredict``): the Messages
    body without ``model`` (it is in the URL) and with Vertex's ``anthropic_version``."""

    serves_native_messages = False  # Vertex's URLs and body differ from Anthropic's own API

    name = "vertex-anthropic"
    requires_api_key = False
    default_location = "us-east5"
    location_env = ("GOOGLE_CLOUD_LOCATION", "CLOUD_ML_REGION")
    publisher = "anthropic"
    default_model = "claude-sonnet-4-5@20250929"
    models = (
        "claude-sonnet-4-5@20250929",
        "claude-opus-4-1@20250805",
        "claude-haiku-4-5@20251001",
        "claude-3-7-sonnet@20250219",
    )

    async def chat_http(self, request: ChatRequest, *, stream: bool) -> HttpRequest:
        body = build_messages_body(
            request, stream=stream, rules=self.model_rules, thinking=self._thinking
        )
        model = body.pop("model")
        body["anthropic_version"] = VERTEX_ANTHROPIC_VERSION
        url = self.vertex_url(model, "streamRawPredict" if stream else "rawPredict")
        return self._vertex_http(url, await self._bearer(request), request.options, body)

    async def list_models(self, request: ModelsRequest) -> list[str]:
        return list(self.models)
