"""``client.embeddings.create``: input checked, split into the provider's batches, embedded
concurrently through the router (the same fallback, cooldowns, limits and deadline as chat),
and put back together in input order.

A provider caps how many inputs one upstream request takes (``embeddings_per_call``); larger
inputs become several requests, at most ``BATCHES_AT_ONCE`` in flight, each holding one of
the provider's concurrency slots. A batch that fails fails the attempt: the next provider
embeds the whole input again, so vectors of two models never mix in one answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypedDict

from ..errors import InvalidRequestError, UnsupportedCapabilityError
from ..providers.base import Provider
from ..types.embeddings import (
    CreateEmbeddingResponse,
    Embedding,
    EmbeddingBatch,
    EmbeddingRequest,
    EmbeddingUsage,
    vector_base64,
    vector_floats,
)
from ..types.request import CallOptions, Timeout
from .fold import estimate_tokens
from .params import _check_keys as check_keys
from .params import build_options
from .tasks import all_or_none, run_operation

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ..routing.policy import RoutingOptions
    from ..routing.router import Router
    from .async_client import AsyncClient

__all__ = ["BATCHES_AT_ONCE", "EmbeddingParams", "Embeddings", "build_embedding_request"]

#: Upstream requests of one call in flight at once (a large input is many batches).
BATCHES_AT_ONCE = 8


class EmbeddingParams(TypedDict, total=False):
    """The optional parameters of ``embeddings.create``, shared by both clients."""

    provider: Any
    dimensions: int | None
    encoding_format: str | None
    user: str | None
    extra_body: Mapping[str, Any] | None
    extra_headers: Mapping[str, str] | None
    timeout: float | Timeout | None
    max_retries: int | None
    proxy: str | None


_KEYS = frozenset(EmbeddingParams.__annotations__)
_INPUT_SHAPES = "a string, a list of strings, a list of token ids or a list of token-id lists"


def _inputs(value: Any) -> list[str] | list[list[int]]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Sequence) or isinstance(value, (bytes, bytearray)) or not value:
        raise InvalidRequestError(f"input must be {_INPUT_SHAPES}, and not empty")
    first = value[0]
    if isinstance(first, str):
        for i, text in enumerate(value):
            if not isinstance(text, str) or not text:
                raise InvalidRequestError(
                    f"input[{i}] must be a non-empty string (all inputs of one call are "
                    "strings, or all are token arrays)"
                )
        return list(value)
    if _is_token(first):  # one token array
        value = [value]
    arrays: list[list[int]] = []
    for i, tokens in enumerate(value):
        if (
            isinstance(tokens, (str, bytes))
            or not isinstance(tokens, Sequence)
            or not tokens
            or not all(_is_token(t) for t in tokens)
        ):
            raise InvalidRequestError(
                f"input[{i}] is not a non-empty list of token ids; input must be {_INPUT_SHAPES}"
            )
        arrays.append(list(tokens))
    return arrays


def _is_token(value: Any) -> bool:
    return type(value) is int and value >= 0


def build_embedding_request(
    model: Any, input: Any, params: Mapping[str, Any], base: CallOptions
) -> EmbeddingRequest:
    """Check everything a caller passed to ``embeddings.create``; build the request."""
    check_keys(params, _KEYS, "create")
    if model is None:
        model = ""
    if not isinstance(model, str):
        raise InvalidRequestError(f"model must be a string, got {type(model).__name__}")
    dimensions = params.get("dimensions")
    if dimensions is not None and (
        isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1
    ):
        raise InvalidRequestError(f"dimensions must be a positive integer, got {dimensions!r}")
    encoding = params.get("encoding_format") or "float"
    if encoding != "float" and encoding != "base64":
        raise InvalidRequestError(f"encoding_format must be 'float' or 'base64', got {encoding!r}")
    user = params.get("user")
    if user is not None and not isinstance(user, str):
        raise InvalidRequestError("user must be a string")
    extra = params.get("extra_body") or {}
    if not isinstance(extra, Mapping):
        raise InvalidRequestError("extra_body must be a dict of provider-specific fields")
    return EmbeddingRequest(
        model=model,
        inputs=_inputs(input),
        dimensions=dimensions,
        encoding_format="base64" if encoding == "base64" else "float",
        user=user,
        extra_body=dict(extra),
        options=build_options(base, params),
    )


def embedding_providers(client: AsyncClient, spec: Any, model: str) -> list[Provider]:
    """The providers that may embed this call: the caller's or the client's, else those the
    model registry lists for ``model``; only those that serve embeddings."""
    candidates = client._providers_for(spec, model=model)
    providers = [p for p in candidates if p.supports_embeddings]
    if not providers:
        names = ", ".join(p.name for p in candidates)
        raise UnsupportedCapabilityError(
            f"none of the providers ({names}) serves embeddings; pass provider=... with one "
            "that does (openai, azure, gemini, ollama, mistral, together, vllm ...)"
        )
    return providers


def _model_for(router: Router, provider: Provider, model: str) -> str:
    """The id this provider knows the embedding model by: the registry's, else the
    caller's, else the provider's default."""
    if model:
        entry = router.registry.lookup(model)
        mapped = entry.model_for(provider.name) if entry is not None else None
        if mapped:
            return mapped
    return provider.resolve_embedding_model(model)


async def embed(
    router: Router,
    providers: Sequence[Provider],
    request: EmbeddingRequest,
    routing: RoutingOptions | None = None,
) -> CreateEmbeddingResponse:
    """The embeddings of ``request.inputs`` from the first provider that delivers them all."""
    gate = asyncio.Semaphore(BATCHES_AT_ONCE)

    async def one_batch(provider: Provider, req: EmbeddingRequest) -> EmbeddingBatch:
        async with gate, router.slot(provider):
            return await provider.embed(req)

    async def call(provider: Provider) -> tuple[str, list[EmbeddingBatch]]:
        model = _model_for(router, provider, request.model)
        if not model:
            raise InvalidRequestError(
                f"{provider.name} has no default embedding model: name one with model=..."
            )
        req = replace(request, model=model)
        size = max(1, provider.embeddings_per_call)
        inputs = req.inputs
        parts = [replace(req, inputs=inputs[i : i + size]) for i in range(0, len(inputs), size)]
        batches = await all_or_none([one_batch(provider, part) for part in parts])
        return model, batches

    provider, (model, batches) = await run_operation(
        router, providers, call, total=request.options.timeout.total, options=routing
    )
    return _response(request, provider, model, batches)


def _response(
    request: EmbeddingRequest, provider: Provider, model: str, batches: list[EmbeddingBatch]
) -> CreateEmbeddingResponse:
    convert = vector_base64 if request.encoding_format == "base64" else vector_floats
    data: list[Embedding] = []
    tokens = 0
    estimated = False
    start = 0
    for batch in batches:
        for vector in batch.vectors:
            data.append(Embedding(embedding=convert(vector), index=len(data)))
        count = len(batch.vectors)
        if batch.prompt_tokens is not None:
            tokens += batch.prompt_tokens
        else:  # the provider counted nothing: token arrays are exact, text is estimated
            for item in request.inputs[start : start + count]:
                if isinstance(item, str):
                    tokens += estimate_tokens(item)
                    estimated = True
                else:
                    tokens += len(item)
        start += count
    usage = EmbeddingUsage(
        prompt_tokens=tokens, total_tokens=tokens, estimated=True if estimated else None
    )
    answered = batches[0].model if batches and batches[0].model else model
    return CreateEmbeddingResponse(data=data, model=answered, usage=usage, provider=provider.name)


class Embeddings:
    """``client.embeddings``: vectors for text or token arrays, the OpenAI SDK's shapes."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    def create(
        self, *, input: Any, model: str = "", **params: Unpack[EmbeddingParams]
    ) -> Coroutine[Any, Any, CreateEmbeddingResponse]:
        """Embed ``input`` (a string, a list of strings, a token array or a list of them).
        ``dimensions`` shortens vectors where the model allows; ``encoding_format``
        "float" (lists of floats) or "base64" (OpenAI's compact form). Input is checked
        now, before anything is awaited."""
        client = self._client
        spec = params.get("provider")
        request = build_embedding_request(model, input, params, client.options)
        providers = embedding_providers(client, spec, request.model)
        routing = client._routing_for(spec)
        return embed(client.router, providers, request, routing)
