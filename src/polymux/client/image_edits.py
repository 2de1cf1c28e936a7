"""``client.images.edit`` and ``create_variation``: input images read and checked, sent as
an upload through the router (fallback, cooldowns, limits, deadline as for generation), the
answer in the caller's format (url or b64_json, ``save_to``) as ``images.generate`` gives it.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidRequestError, UnsupportedCapabilityError
from ..providers.base import Provider
from ..transport.base import ByteStream
from ..types.images import ImageEditEvent, ImagesResponse
from ..types.media import MAX_IMAGE_BYTES
from ..types.request import ImageRef, ImageRequest
from ..types.uploads import FilePart, ImageEditRequest, byte_view
from .event_streams import JsonEvents, open_first
from .images import finish_images, save_directory
from .params import build_image_request
from .stream import AsyncEventStream
from .tasks import run_operation
from .vision import image_media_type

if TYPE_CHECKING:
    from .async_client import AsyncClient

__all__ = ["checked_edit_stream", "edit_images", "image_file", "stream_edit"]

#: Images one edit call uploads at most (gpt-image takes up to 16).
MAX_INPUT_IMAGES = 16
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}


def image_file(value: Any, what: str = "image") -> FilePart:
    """One input image as an upload: bytes, a path, a binary file object, a ``data:`` URI or
    a ``(filename, bytes)`` tuple as the OpenAI SDK takes; PNG, JPEG, GIF or WebP (others by
    their file name), size-capped.

    Nothing goes through base64: bytes are sent as they are, and a path is streamed from
    disk as it is sent (transport/multipart.py). A file object is read once here: the
    uploads of one edit may run at once, and would share its read position."""
    name: str | None = None
    if isinstance(value, tuple) and len(value) >= 2 and isinstance(value[0], str):
        name, value = value[0], value[1]
    try:
        if isinstance(value, (str, os.PathLike)) and not _is_data_uri(value):
            return _image_path(value, what)
        data: bytes | memoryview
        if isinstance(value, (bytes, bytearray, memoryview)):
            data = byte_view(value)
        elif hasattr(value, "read"):
            data = value.read(MAX_IMAGE_BYTES + 1)
            if not isinstance(data, bytes):
                raise InvalidRequestError("open image files in binary mode ('rb')")
            given = getattr(value, "name", None)
            name = name or (given if isinstance(given, str) else None)
        elif _is_data_uri(value):
            data = ImageRef.parse(value).data or b""
        else:
            raise InvalidRequestError(
                f"cannot read an image from {type(value).__name__}; pass bytes, a path or a file"
            )
        if len(data) > MAX_IMAGE_BYTES:
            raise InvalidRequestError(
                f"image is {len(data)} bytes; the limit is {MAX_IMAGE_BYTES} (resize it first)"
            )
        media_type = image_media_type(bytes(data[:16]), name)
    except InvalidRequestError as exc:
        raise InvalidRequestError(f"{what}: {exc.message}") from None
    return FilePart(data, _filename(what, media_type), media_type)


def _is_data_uri(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("data:")


def _filename(what: str, media_type: str) -> str:
    return f"{what}.{_EXTENSIONS.get(media_type, 'img')}"


def _image_path(value: str | os.PathLike[str], what: str) -> FilePart:
    """An image file on disk: its size and first bytes checked now, its bytes read from
    disk when they are sent (each upload opens it afresh)."""
    if isinstance(value, str):
        if value.startswith(("http://", "https://")):
            raise InvalidRequestError("it must be uploaded: pass bytes, a path or a file")
        if len(value) >= 4096 or not os.path.isfile(value):
            raise InvalidRequestError(f"{value[:80]!r} is not an existing file or a data: URI")
    path = Path(value)
    try:
        size = path.stat().st_size
        with path.open("rb") as file:
            head = file.read(16)
    except OSError as exc:
        raise InvalidRequestError(f"cannot read image file {path}: {exc.strerror}") from exc
    if size > MAX_IMAGE_BYTES:
        raise InvalidRequestError(f"image file {path} is {size} bytes; limit {MAX_IMAGE_BYTES}")
    if size == 0:
        raise InvalidRequestError(f"image file {path} is empty")
    media_type = image_media_type(head, path.name)
    return FilePart(
        b"", _filename(what, media_type), media_type, source=os.fspath(path), length=size
    )


def _images(value: Any) -> list[FilePart]:
    items = list(value) if isinstance(value, list) else [value]
    if not items or len(items) > MAX_INPUT_IMAGES:
        raise InvalidRequestError(f"image must be one image or a list of 1 to {MAX_INPUT_IMAGES}")
    return [
        image_file(item, f"image[{i}]" if len(items) > 1 else "image")
        for i, item in enumerate(items)
    ]


def build_edit_request(
    client: AsyncClient,
    image: Any,
    prompt: str | None,
    mask: Any,
    model: str,
    params: Mapping[str, Any],
) -> tuple[ImageEditRequest, ImageRequest]:
    """The checked edit request, and the generation-shaped request its answer is finished
    with (format, downloads)."""
    quality = params.get("quality")
    shaped = build_image_request(
        model, prompt if prompt is not None else "variation", dict(params), client.options
    )
    request = ImageEditRequest(
        model=shaped.model,
        images=_images(image),
        prompt=prompt,
        mask=None if mask is None else image_file(mask, "mask"),
        n=shaped.n,
        size=shaped.size,
        quality=quality,
        response_format=shaped.response_format,
        user=shaped.user,
        extra_body=shaped.extra_body,
        options=shaped.options,
    )
    return request, shaped


async def edit_images(
    client: AsyncClient,
    image: Any,
    prompt: str | None,
    mask: Any,
    model: str,
    params: dict[str, Any],
) -> ImagesResponse:
    save_to = params.pop("save_to", None)
    spec = params.pop("provider", None)
    if prompt is not None and (not isinstance(prompt, str) or not prompt.strip()):
        raise InvalidRequestError("prompt must be a non-empty string")
    request, shaped = build_edit_request(client, image, prompt, mask, model, params)
    directory: Path | None = save_directory(save_to)
    providers = _edit_providers(client, spec)
    router = client.router

    async def one_request(provider: Provider, req: ImageEditRequest) -> Sequence[Any]:
        async with router.slot(provider):
            return await provider.edit_images(req)

    sent: dict[str, str] = {}  # provider name -> the model it was asked for

    async def call(provider: Provider) -> list[Any]:
        req = replace(request, model=provider.resolve_image_model(request.model))
        sent[provider.name] = req.model
        per_call = max(1, provider.images_per_call)
        sizes = [min(per_call, req.n - i) for i in range(0, req.n, per_call)]
        batches = await asyncio.gather(*(one_request(provider, replace(req, n=k)) for k in sizes))
        return [image for batch in batches for image in batch]

    provider, images = await run_operation(
        router, providers, call, total=request.options.timeout.total
    )
    data = await finish_images(images, shaped, directory)
    return ImagesResponse(
        created=int(time.time()),
        data=data,
        provider=provider.name,
        model=sent.get(provider.name) or None,
    )


def _edit_providers(client: AsyncClient, spec: Any) -> list[Provider]:
    providers = [p for p in client._providers_for(spec, images=True) if p.supports_image_edits]
    if not providers:
        raise UnsupportedCapabilityError(
            "none of the configured providers edits images; pass image_provider=..."
        )
    return providers


def checked_edit_stream(
    client: AsyncClient, image: Any, prompt: Any, mask: Any, model: str, params: dict[str, Any]
) -> tuple[list[Provider], ImageEditRequest]:
    """A streamed edit (``stream=True``, ``partial_images`` 0 to 3) checked, and the
    providers that may answer it (the gateway relays its events itself)."""
    params.pop("stream", None)
    partial = params.pop("partial_images", None)
    if partial is not None and (
        isinstance(partial, bool) or not isinstance(partial, int) or not 0 <= partial <= 3
    ):
        raise InvalidRequestError("partial_images must be a whole number from 0 to 3")
    if params.pop("save_to", None) is not None:
        raise InvalidRequestError(
            "save_to does not apply to a streamed edit: its events hold the image"
        )
    spec = params.pop("provider", None)
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidRequestError("prompt must be a non-empty string")
    request, _ = build_edit_request(client, image, prompt, mask, model, params)
    streamed: dict[str, Any] = {"stream": True}
    if partial is not None:
        streamed["partial_images"] = partial
    request = replace(request, extra_body={**request.extra_body, **streamed})
    return _edit_providers(client, spec), request


def stream_edit(
    client: AsyncClient, image: Any, prompt: Any, mask: Any, model: str, params: dict[str, Any]
) -> AsyncEventStream[ImageEditEvent]:
    """``images.edit(..., stream=True)``: ``image_edit.partial_image`` events as the image
    takes shape, then ``image_edit.completed``, from the first provider that opens."""
    providers, request = checked_edit_stream(client, image, prompt, mask, model, params)
    return AsyncEventStream(_edit_events(client, providers, request))


async def _edit_events(
    client: AsyncClient, providers: list[Provider], request: ImageEditRequest
) -> AsyncGenerator[ImageEditEvent, None]:
    def open_one(provider: Provider) -> AbstractAsyncContextManager[ByteStream]:
        model = provider.resolve_image_model(request.model)
        return provider.image_edit_stream(replace(request, model=model))

    def wrap(provider: Provider, stream: ByteStream) -> JsonEvents[ImageEditEvent]:
        return JsonEvents(provider, stream, build=_edit_event, done="image_edit.completed")

    opened = open_first(client.router, providers, request.options, None, open_one, wrap)
    async with opened as events:
        async for event in events:
            yield event


def _edit_event(payload: Mapping[str, Any], provider: str) -> ImageEditEvent:
    return ImageEditEvent(
        type=payload["type"],
        b64_json=payload.get("b64_json"),
        partial_image_index=payload.get("partial_image_index"),
        created_at=payload.get("created_at"),
        size=payload.get("size"),
        quality=payload.get("quality"),
        background=payload.get("background"),
        output_format=payload.get("output_format"),
        usage=payload.get("usage"),
    )
