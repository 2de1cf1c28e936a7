"""``POST /v1/images/generations``: an OpenAI request body -> ``images.generate`` -> JSON.

With ``media_dir`` configured, every image is also saved there under a generated name and a
``url`` answer points at the gateway's media route (a stable URL instead of the provider's
expiring one or a huge ``data:`` URL). The file system path itself is never sent.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from ..errors import InvalidRequestError
from ..types.images import ImagesResponse
from .asgi import header, send_bytes, until_disconnect
from .limits import check_images, passed_through
from .media import PREFIX

if TYPE_CHECKING:
    from .app import Call, Gateway

__all__ = ["handle", "send_images"]

_PARAMS = ("n", "size", "quality", "style", "response_format", "user")
_STRINGS = ("size", "quality", "style", "response_format", "user")
_HANDLED = frozenset({"model", "prompt", *_PARAMS})
_HOST = re.compile(rb"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")


def _params(body: dict[str, Any], allowed: Collection[str]) -> dict[str, Any]:
    params = {k: body[k] for k in _PARAMS if body.get(k) is not None}
    for name in _STRINGS:
        if name in params and not isinstance(params[name], str):
            raise InvalidRequestError(f"{name} must be a string")
    extra = passed_through(body, _HANDLED, allowed)
    if extra:
        params["extra_body"] = extra
    return params


def media_base(gateway: Gateway, call: Call) -> str:
    """Where clients reach the media route: ``public_url``, else the Host they used."""
    if gateway.config.public_url:
        return gateway.config.public_url.rstrip("/")
    host = header(call.scope, b"host")
    if host is None or not _HOST.match(host):
        return f"http://{gateway.config.host}:{gateway.config.port}"
    return f"http://{host.decode()}"


async def handle(gateway: Gateway, call: Call) -> None:
    body = await gateway.read_json(call)
    check_images(body, gateway.limits)
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise InvalidRequestError(f"model must be a string, got {type(model).__name__}")
    route = gateway.models.route(model or "")
    call.use_model(model)
    if gateway.config.log_content and isinstance(body.get("prompt"), str):
        call.record.request = body["prompt"]
    try:
        work = gateway.client.images.generate(
            prompt=body.get("prompt"),  # type: ignore[arg-type]  # checked by generate()
            model=route.model,
            provider=route.providers,
            save_to=gateway.media_dir,
            **_params(body, gateway.pass_through),
        )
    except (TypeError, KeyError, AttributeError) as exc:
        raise InvalidRequestError(f"invalid request: {exc}") from exc
    response: ImagesResponse = await until_disconnect(call, work)
    await send_images(gateway, call, response)


async def send_images(gateway: Gateway, call: Call, response: ImagesResponse) -> None:
    """An images answer; saved images' URLs point at the gateway's media route."""
    call.record.provider = response.provider
    call.record.images = len(response.data)
    data = response.model_dump()
    base = media_base(gateway, call) if gateway.media_dir is not None else None
    for item in data["data"]:
        path = item.pop("path", None)  # a server path: never sent
        if base is not None and path and item.get("url") is not None:
            item["url"] = f"{base}{PREFIX}{Path(path).name}"
    await send_bytes(call.send, 200, orjson.dumps(data), [(b"content-type", b"application/json")])
