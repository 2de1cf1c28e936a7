"""``POST /v1/moderations``: an OpenAI request body -> ``moderations.create`` -> JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from ..errors import InvalidRequestError
from ..types.moderations import ModerationCreateResponse
from .asgi import JSON_TYPE, read_json, send_bytes, until_disconnect
from .body import body_params, model_of

if TYPE_CHECKING:
    from .app import Call, Gateway

__all__ = ["handle"]


async def handle(gateway: Gateway, call: Call) -> None:
    body = await read_json(call.scope, call.receive, gateway.limits.max_body_bytes)
    model = model_of(body)
    route = gateway.models.route(model or "")
    call.use_model(model)
    if gateway.config.log_content:
        call.record.request = orjson.dumps(body.get("input")).decode()[:100_000]
    params = body_params(body, (), handled=("model", "input"), allowed=gateway.pass_through)
    try:
        work = gateway.client.moderations.create(
            input=body.get("input"), model=route.model, provider=route.providers, **params
        )
    except (TypeError, KeyError, AttributeError) as exc:
        raise InvalidRequestError(f"invalid request: {exc}") from exc
    response: ModerationCreateResponse = await until_disconnect(call, work)
    call.record.provider = response.provider
    await send_bytes(call.send, 200, orjson.dumps(response.model_dump()), [JSON_TYPE])
