"""Generated images -> ``Image`` objects in the format the caller asked for.

Providers return URLs or bytes; the caller asks for ``url`` or ``b64_json``. Bytes become a
``data:`` URL when a URL is asked for; a URL is downloaded (size-capped, content-type checked)
when base64 or a saved file is asked for. ``save_to`` writes files with generated names only.
"""

from __future__ import annotations

import asyncio
import base64
import mimetypes
import uuid
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import Any

from ..errors import InvalidRequestError
from ..providers.base import GeneratedImage
from ..types.images import Image
from ..types.media import MAX_GENERATED_IMAGE_BYTES, sniff_media_type
from ..types.request import ImageRef, ImageRequest

__all__ = ["MAX_IMAGE_DOWNLOAD", "download_image", "finish_images", "save_directory"]

#: Largest image downloaded from a provider's URL.
MAX_IMAGE_DOWNLOAD = MAX_GENERATED_IMAGE_BYTES
_EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
}


def _normalize(item: GeneratedImage | str | bytes) -> GeneratedImage:
    if isinstance(item, GeneratedImage):
        return item
    if isinstance(item, (bytes, bytearray)):
        data = bytes(item)
        return GeneratedImage(data=data, media_type=sniff_media_type(data) or "image/png")
    if isinstance(item, str):
        if item.startswith("data:"):
            ref = ImageRef.parse(item)
            return GeneratedImage(data=ref.data, media_type=ref.media_type or "image/png")
        return GeneratedImage(url=item)
    raise TypeError(
        f"an image provider returned {type(item).__name__}; return a URL, bytes or GeneratedImage"
    )


async def download_image(url: str, request: ImageRequest) -> GeneratedImage:
    """A provider's image URL as bytes, through the one guarded downloader."""
    from ..providers.fetch_image import fetch_image

    ref = await fetch_image(url, request, max_bytes=MAX_IMAGE_DOWNLOAD, from_provider=True)
    assert ref.data is not None
    return GeneratedImage(data=ref.data, media_type=ref.media_type or "image/png")


def _save(image: GeneratedImage, directory: Path) -> str:
    assert image.data is not None
    ext = _EXTENSIONS.get(image.media_type) or mimetypes.guess_extension(image.media_type) or ".img"
    # Names are generated: nothing from a prompt or a provider reaches the file system path.
    path = directory / f"image_{uuid.uuid4().hex[:16]}{ext}"
    path.write_bytes(image.data)
    return str(path)


def save_directory(save_to: Any) -> Path | None:
    """The checked ``save_to`` directory. Checked before any provider is called, so a typo
    does not cost a paid generation."""
    if save_to is None:
        return None
    if not isinstance(save_to, (str, PathLike)):
        raise InvalidRequestError(f"save_to must be a directory path, got {type(save_to).__name__}")
    directory = Path(save_to)
    if not directory.is_dir():
        raise InvalidRequestError(f"save_to={str(save_to)!r} is not an existing directory")
    return directory


async def _finish_one(item: Any, request: ImageRequest, directory: Path | None) -> Image:
    image = _normalize(item)
    needs_bytes = request.response_format == "b64_json" or directory is not None
    if image.data is None and needs_bytes:
        assert image.url is not None
        downloaded = await download_image(image.url, request)
        image = GeneratedImage(
            url=image.url,
            data=downloaded.data,
            media_type=downloaded.media_type,
            revised_prompt=image.revised_prompt,
        )
    result = Image(revised_prompt=image.revised_prompt)
    if request.response_format == "b64_json":
        assert image.data is not None
        result.b64_json = base64.b64encode(image.data).decode("ascii")
    else:
        result.url = image.url or ImageRef(data=image.data, media_type=image.media_type).to_url()
    if directory is not None:
        result.path = _save(image, directory)
    return result


async def finish_images(
    items: Sequence[Any], request: ImageRequest, directory: Path | None
) -> list[Image]:
    """The images in the caller's format; downloads (if any) run concurrently."""
    return list(
        await asyncio.gather(*(_finish_one(i, request, directory) for i in items[: request.n]))
    )
