"""``client.moderations.create``: whether text (or text and images) breaks a usage policy,
through the router like every other call (OpenAI serves it)."""

from __future__ import annotations

from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypedDict

from ..errors import InvalidRequestError, UnsupportedCapabilityError
from ..providers.base import Provider
from ..types.moderations import ModerationCreateResponse, ModerationRequest
from ..types.request import Timeout
from .params import _check_keys as check_keys
from .params import build_options
from .tasks import run_operation

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .async_client import AsyncClient

__all__ = ["ModerationParams", "Moderations", "moderation_input"]


class ModerationParams(TypedDict, total=False):
    """The optional parameters of ``moderations.create``, shared by both clients."""

    provider: Any
    extra_body: Mapping[str, Any] | None
    extra_headers: Mapping[str, str] | None
    timeout: float | Timeout | None
    max_retries: int | None
    proxy: str | None


_KEYS = frozenset(ModerationParams.__annotations__)
_SHAPES = (
    'a string, a list of strings, or a list of parts like {"type": "text", "text": ...} and '
    '{"type": "image_url", "image_url": {"url": ...}}'
)


def moderation_input(value: Any) -> str | list[str] | list[dict[str, Any]]:
    """The checked input: a string, strings, or one multimodal list of parts."""
    if isinstance(value, str) and value:
        return value
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes)) or not value:
        raise InvalidRequestError(f"input must be {_SHAPES}, and not empty")
    if all(isinstance(v, str) and v for v in value):
        return list(value)
    parts = []
    for i, part in enumerate(value):
        kind = part.get("type") if isinstance(part, Mapping) else None
        ok = (kind == "text" and isinstance(part.get("text"), str)) or (
            kind == "image_url"
            and isinstance(part.get("image_url"), Mapping)
            and isinstance(part["image_url"].get("url"), str)
        )
        if not ok:
            raise InvalidRequestError(
                f"input[{i}] is not a non-empty string or part; input must be {_SHAPES}"
            )
        parts.append(dict(part))
    return parts


class Moderations:
    """``client.moderations``, the OpenAI SDK's shapes."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    def create(
        self, *, input: Any, model: str = "", **params: Unpack[ModerationParams]
    ) -> Coroutine[Any, Any, ModerationCreateResponse]:
        """Classify ``input``; one result per string (one for a list of parts)."""
        client = self._client
        check_keys(params, _KEYS, "create")
        if not isinstance(model, str):
            raise InvalidRequestError(f"model must be a string, got {type(model).__name__}")
        extra = params.get("extra_body") or {}
        if not isinstance(extra, Mapping):
            raise InvalidRequestError("extra_body must be a dict of provider-specific fields")
        request = ModerationRequest(
            model=model,
            input=moderation_input(input),
            extra_body=dict(extra),
            options=build_options(client.options, params),
        )
        spec = params.get("provider")
        candidates = client._providers_for(spec, model=model or "omni-moderation-latest")
        providers = [p for p in candidates if p.supports_moderations]
        if not providers:
            raise UnsupportedCapabilityError(
                f"none of the providers ({', '.join(p.name for p in candidates)}) serves "
                "moderations; pass provider='openai'"
            )
        return self._moderate(providers, request, client._routing_for(spec))

    async def _moderate(
        self, providers: Sequence[Provider], request: ModerationRequest, routing: Any
    ) -> ModerationCreateResponse:
        router = self._client.router

        async def call(provider: Provider) -> ModerationCreateResponse:
            named = request.model
            model = router.model_for(provider, named) if named else None
            model = model or provider.default_moderation_model or ""
            async with router.slot(provider):
                return await provider.moderate(replace(request, model=model))

        provider, response = await run_operation(
            router, providers, call, total=request.options.timeout.total, options=routing
        )
        response.provider = provider.name
        return response
