"""``POST /v1/images/edits`` and ``/v1/images/variations``: a multipart upload ->
``images.edit`` / ``create_variation`` -> JSON, as ``/v1/images/generations`` answers.

Input images arrive as ``image`` (one) or ``image[]`` (several, as the OpenAI SDK sends
them), with an optional ``mask``; their number and sizes are checked against the gateway's
limits (``max_images``, ``max_image_bytes``) before any provider is called.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..client.image_edits import checked_edit_stream
from ..errors import InvalidRequestError
from ..providers.base import Provider
from ..transport.base import HttpRequest
from ..types.images import ImagesResponse
from .asgi import header, until_disconnect
from .forms import Form, form_extra, parse_form
from .images import send_images
from .limits import check_images, too_large
from .passthrough import relay_events

if TYPE_CHECKING:
    from .app import Call, Gateway

__all__ = ["handle_edit", "handle_variation"]

_STRINGS = ("size", "quality", "response_format", "user")
_NAMED = frozenset({"model", "prompt", "n", *_STRINGS})
#: The other fields of OpenAI's spec for edits (the SDK's ImageEditParams), forwarded as
#: they are; variations have none.
_SPEC = frozenset(
    {
        "background",
        "input_fidelity",
        "output_compression",
        "output_format",
        "partial_images",
        "stream",
    }
)


async def handle_edit(gateway: Gateway, call: Call) -> None:
    await _handle(gateway, call, variation=False)


async def handle_variation(gateway: Gateway, call: Call) -> None:
    await _handle(gateway, call, variation=True)


def _params(form: Form, variation: bool, allowed: Collection[str]) -> dict[str, Any]:
    extra = form_extra(
        form,
        named=_NAMED - {"prompt"} if variation else _NAMED,
        spec=() if variation else _SPEC,
        files=("image", "image[]") if variation else ("image", "image[]", "mask"),
        allowed=allowed,
        streams=not variation,
    )
    params: dict[str, Any] = {}
    for name in _STRINGS:
        value = form.field(name)
        if value is not None:
            params[name] = value
    n = form.field("n")
    if n is not None:
        if not n.strip().isdigit():
            raise InvalidRequestError(f"n must be a whole number, got {n!r}")
        params["n"] = int(n)
    if extra:
        params["extra_body"] = extra
    return params


async def _handle(gateway: Gateway, call: Call, *, variation: bool) -> None:
    limits = gateway.limits
    raw = await gateway.read_upload(call)
    form = parse_form(header(call.scope, b"content-type"), raw)
    images = form.files.get("image") or form.files.get("image[]") or []
    if not images:
        raise InvalidRequestError("image is required: upload it as the form file 'image'")
    if len(images) > limits.max_images:
        raise InvalidRequestError(f"too many images: this gateway accepts {limits.max_images}")
    masks = form.files.get("mask") or []
    for part in [*images, *masks]:
        if len(part.data) > limits.max_image_bytes:
            raise too_large(
                f"an uploaded image is {len(part.data)} bytes; this gateway accepts "
                f"{limits.max_image_bytes} bytes per image"
            )
    params = _params(form, variation, gateway.pass_through)
    check_images(params, limits)
    model = form.field("model")
    route = gateway.models.route(model or "")
    call.use_model(model)
    prompt = form.field("prompt")
    if gateway.config.log_content and prompt:
        call.record.request = prompt
    uploads = [(part.filename, part.data) for part in images]
    common: dict[str, Any] = {
        "model": route.model,
        "provider": route.providers,
        "save_to": gateway.media_dir,
        **params,
    }
    extra = params.get("extra_body") or {}
    if str(extra.pop("stream", "false")).lower() not in ("false", "0"):
        if prompt is None:
            raise InvalidRequestError("prompt is required: say what to change")
        await _relay_edit(gateway, call, uploads, prompt, masks, common)
        return
    if variation:
        work = gateway.client.images.create_variation(image=uploads, **common)
    else:
        if prompt is None:
            raise InvalidRequestError("prompt is required: say what to change")
        mask = (masks[0].filename, masks[0].data) if masks else None
        work = gateway.client.images.edit(image=uploads, prompt=prompt, mask=mask, **common)
    response: ImagesResponse = await until_disconnect(call, work)
    await send_images(gateway, call, response)


async def _relay_edit(
    gateway: Gateway,
    call: Call,
    uploads: list[tuple[str, Any]],
    prompt: str,
    masks: list[Any],
    common: dict[str, Any],
) -> None:
    """A streamed edit: checked as the client checks one, then the upstream's
    ``image_edit.*`` events relayed whole as they come (passthrough.py); the usage row
    counts the completed images and their tokens."""
    params = {**common}
    params.pop("save_to", None)
    extra = dict(params.pop("extra_body", None) or {})
    partial = extra.pop("partial_images", None)
    if partial is not None:
        if not str(partial).strip().isdigit():
            raise InvalidRequestError(f"partial_images must be a whole number, got {partial!r}")
        params["partial_images"] = int(str(partial))
    if extra:
        params["extra_body"] = extra
    mask = (masks[0].filename, masks[0].data) if masks else None
    model = params.pop("model")
    providers, request = checked_edit_stream(gateway.client, uploads, prompt, mask, model, params)

    def http(provider: Provider) -> HttpRequest:
        model = provider.resolve_image_model(request.model)
        return provider.image_edit_request(replace(request, model=model))

    def completed(payload: dict[str, Any]) -> None:
        call.record.images = (call.record.images or 0) + 1

    await relay_events(
        gateway, call, providers, http, done="image_edit.completed", on_done=completed
    )
