"""``GET /v1/models``, ``GET /v1/models/{id}`` and ``GET /health``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..types.images import Model
from .asgi import send_json
from .errormap import GatewayHTTPError

if TYPE_CHECKING:
    from .app import Call, Gateway

__all__ = ["handle_health", "handle_list", "handle_one"]


async def handle_list(gateway: Gateway, call: Call) -> None:
    models = await gateway.models.models(gateway.client.transport, gateway.client.options)
    allowed = call.caller.limits.models
    if allowed is not None:  # a key limited to some models sees those only
        models = [m for m in models if m.id in allowed]
    await send_json(call.send, 200, {"object": "list", "data": [m.model_dump() for m in models]})


async def handle_one(gateway: Gateway, call: Call) -> None:
    path: str = call.scope["path"]
    # Model ids may hold slashes ("provider/model", "meta-llama/..."): the rest of the path
    # (already percent-decoded by the server).
    model_id = path.split("/models/", 1)[1]
    owner = gateway.models.serves(model_id)
    if owner is not None:  # routed by the config: it exists here, whatever upstreams list
        model = Model(id=model_id, owned_by=owner, provider=None if owner == "polymux" else owner)
        await send_json(call.send, 200, model.model_dump())
        return
    models = await gateway.models.models(gateway.client.transport, gateway.client.options)
    for model in models:
        if model.id == model_id:
            await send_json(call.send, 200, model.model_dump())
            return
    raise GatewayHTTPError(
        404, f"the model {model_id!r} does not exist here", code="model_not_found", param="model"
    )


async def handle_health(gateway: Gateway, call: Call) -> None:
    await send_json(
        call.send,
        200,
        {"status": "ok", "providers": [p.name for p in gateway.models.providers.values()]},
    )
