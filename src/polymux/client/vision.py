"""Image inputs: every form a caller may give becomes one normalized OpenAI ``image_url`` part.

Accepted: ``bytes``, a file object, a path (``str`` or ``Path``) to an existing file, an
``http(s)://`` URL, or a ``data:`` URI, alone or as g4f's ``[image, filename]`` pairs. Local
images become ``data:`` URIs; URLs stay URLs (a provider that needs bytes downloads them).
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import InvalidRequestError
from ..types.media import MAX_IMAGE_BYTES, SNIFFED_TYPES, sniff_media_type
from ..types.request import ImageRef, Message

__all__ = [
    "MAX_IMAGE_BYTES",
    "attach_images",
    "image_media_type",
    "image_part",
    "image_url",
    "normalize_image_part",
    "sniff_media_type",
]


def _from_bytes(data: bytes, name: str | None = None) -> str:
    if len(data) > MAX_IMAGE_BYTES:
        raise InvalidRequestError(
            f"image is {len(data)} bytes; the limit is {MAX_IMAGE_BYTES} (resize it first)"
        )
    return ImageRef(data=data, media_type=image_media_type(data[:16], name)).to_url()


def image_media_type(head: bytes, name: str | None = None) -> str:
    """The media type of an image from its first 16 bytes (and its file name, for types
    that cannot be sniffed), or a clear error when it is no image."""
    media_type = sniff_media_type(head)
    if media_type is None and name:
        # The name decides only for types we cannot sniff (BMP, TIFF, HEIC ...): bytes named
        # .png that are not PNG are not an image a provider will read.
        guessed = mimetypes.guess_type(name)[0]
        if guessed not in SNIFFED_TYPES:
            media_type = guessed
    if media_type is None or not media_type.startswith("image/"):
        raise InvalidRequestError(
            "image bytes are not PNG, JPEG, GIF or WebP; pass one of those, or a URL"
        )
    return media_type


def image_url(image: Any, name: str | None = None) -> str:
    """The normalized URL (http(s) or data URI) for one image given in any accepted form."""
    if isinstance(image, (bytes, bytearray, memoryview)):
        return _from_bytes(bytes(image), name)
    if hasattr(image, "read"):
        data = image.read(MAX_IMAGE_BYTES + 1)
        if isinstance(data, str):
            raise InvalidRequestError("open image files in binary mode ('rb')")
        return _from_bytes(data, name or getattr(image, "name", None))
    if isinstance(image, os.PathLike):
        return _from_path(Path(image))
    if isinstance(image, str):
        if image.startswith(("https://", "http://")):
            return image
        if image.startswith("data:"):
            return _checked_data_uri(image)
        if len(image) < 4096 and os.path.isfile(image):
            return _from_path(Path(image))
        raise InvalidRequestError(
            f"image {image[:80]!r} is not an http(s) URL, a data: URI or an existing file"
        )
    raise InvalidRequestError(
        f"cannot read an image from {type(image).__name__}; pass bytes, a path, a URL or a data URI"
    )


def _checked_data_uri(url: str) -> str:
    """A data URI that holds an image, with an image media type (providers such as Anthropic
    pass the type on), or a clear error. Returns ``url`` itself when it was already right."""
    ref = ImageRef.parse(url)  # validates the base64 payload
    assert ref.data is not None
    if ref.media_type and ref.media_type.startswith("image/"):
        return url
    sniffed = sniff_media_type(ref.data)
    if sniffed is None:
        raise InvalidRequestError(
            f"the data URI holds {ref.media_type}, not an image; pass PNG, JPEG, GIF or WebP"
        )
    return ImageRef(data=ref.data, media_type=sniffed).to_url()


def _from_path(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_IMAGE_BYTES:
            raise InvalidRequestError(f"image file {path} is {size} bytes; limit {MAX_IMAGE_BYTES}")
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidRequestError(f"cannot read image file {path}: {exc.strerror}") from exc
    return _from_bytes(data, path.name)


def image_part(image: Any, name: str | None = None) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": image_url(image, name)}}


def normalize_image_part(part: dict[str, Any]) -> dict[str, Any]:
    """An ``image_url`` content part with its URL checked, in the ``{"url": ...}`` form."""
    spec = part.get("image_url")
    if isinstance(spec, str):
        spec = {"url": spec}
    if not isinstance(spec, dict) or not isinstance(spec.get("url"), str):
        raise InvalidRequestError('an image_url part needs {"image_url": {"url": "https://..."}}')
    url = spec["url"]
    if not url.startswith(("https://", "http://", "data:")):
        raise InvalidRequestError(
            f"image_url must be an http(s) URL or a data: URI, got {url[:60]!r}"
        )
    if url.startswith("data:"):
        checked = _checked_data_uri(url)
        if checked is not url:
            spec = {**spec, "url": checked}
    return {"type": "image_url", "image_url": spec} if spec is not part.get("image_url") else part


def _as_items(images: Sequence[Any]) -> list[tuple[Any, str | None]]:
    items: list[tuple[Any, str | None]] = []
    for entry in images:
        if (
            isinstance(entry, (list, tuple))
            and len(entry) == 2
            and isinstance(entry[1], (str, type(None)))
        ):
            items.append((entry[0], entry[1]))  # g4f's [image, filename] pairs
        else:
            items.append((entry, None))
    return items


def attach_images(messages: list[Message], images: Sequence[Any]) -> None:
    """Append the seed-style ``image=`` / ``images=`` inputs to the last user message."""
    if not images:
        return
    parts = [image_part(image, name) for image, name in _as_items(images)]
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                message["content"] = [{"type": "text", "text": content}, *parts]
            elif isinstance(content, list):
                message["content"] = [*content, *parts]
            else:
                message["content"] = parts
            return
    messages.append({"role": "user", "content": parts})
