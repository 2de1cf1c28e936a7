"""``POST /v1/embeddings``: an OpenAI request body -> ``embeddings.create`` -> JSON.

The input count is capped (``[limits] max_embedding_inputs``) before any provider is called;
the client batches within that as each provider needs. Usage (tokens) goes to the log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from ..errors import InvalidRequestError
from ..types.embeddings import CreateEmbeddingResponse
from .asgi import JSON_TYPE, read_json, send_bytes, until_disconnect
from .body import body_params, model_of

if TYPE_CHECKING:
    from .app import Call, Gateway

__all__ = ["handle"]

_PARAMS = ("dimensions", "encoding_format", "user")


async def handle(gateway: Gateway, call: Call) -> None:
    body = await read_json(call.scope, call.receive, gateway.limits.max_body_bytes)
    model = model_of(body)
    items = body.get("input")
    cap = gateway.limits.max_embedding_inputs
    if isinstance(items, list) and items and not isinstance(items[0], int) and len(items) > cap:
        raise InvalidRequestError(
            f"input has {len(items)} items; this gateway embeds at most {cap} per request"
        )
    route = gateway.models.route(model or "")
    record = call.record
    call.use_model(model)
    if gateway.config.log_content:
        record.request = orjson.dumps(items).decode()[:100_000]
    params = body_params(
        body,
        _PARAMS,
        strings=("encoding_format", "user"),
        handled=("model", "input"),
        allowed=gateway.pass_through,
    )
    try:
        work = gateway.client.embeddings.create(
            input=items, model=route.model, provider=route.providers, **params
        )
    except (TypeError, KeyError, AttributeError) as exc:
        raise InvalidRequestError(f"invalid request: {exc}") from exc
    response: CreateEmbeddingResponse = await until_disconnect(call, work)
    record.provider = response.provider
    record.prompt_tokens = response.usage.prompt_tokens
    record.total_tokens = response.usage.total_tokens
    await send_bytes(call.send, 200, orjson.dumps(response.model_dump()), [JSON_TYPE])
