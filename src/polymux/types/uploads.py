"""Requests that upload files: image edits and variations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import IO, Any, Literal

from .request import CallOptions

__all__ = ["FilePart", "ImageEditRequest", "byte_view"]


@dataclass(frozen=True, slots=True)
class FilePart:
    """One uploaded file: its bytes, the name sent with it and its media type.

    A large file need not be in memory: with ``source`` (a path, or a seekable binary file
    object whose bytes start at ``start``) its ``length`` bytes are read as they are sent
    (transport/multipart.py) and ``data`` is empty. ``data`` may be a view of a larger
    buffer (the gateway's form parser hands files on as views of the body it read)."""

    data: bytes | memoryview
    filename: str = "file"
    media_type: str = "application/octet-stream"
    source: str | IO[bytes] | None = None
    start: int = 0
    length: int = 0

    @property
    def size(self) -> int:
        return len(self.data) if self.source is None else self.length

    def __repr__(self) -> str:  # never the bytes
        return f"<FilePart {self.filename!r} {self.media_type} {self.size} bytes>"


def byte_view(value: bytes | bytearray | memoryview) -> bytes | memoryview:
    """Bytes to upload as they are: ``bytes`` itself, a flat byte view of anything else
    (no copy; a buffer of other items or strides is copied into bytes)."""
    if isinstance(value, bytes):
        return value
    view = memoryview(value)
    if view.format == "B" and view.ndim == 1 and view.c_contiguous:
        return view
    return view.tobytes()


@dataclass(slots=True, kw_only=True)
class ImageEditRequest:
    """A validated image edit (``prompt`` set) or variation (``prompt`` None) request."""

    model: str
    images: list[FilePart]
    prompt: str | None = None
    mask: FilePart | None = None
    n: int = 1
    size: str | None = None
    quality: str | None = None
    response_format: Literal["url", "b64_json"] = "url"
    user: str | None = None
    extra_body: dict[str, Any] = field(default_factory=dict)
    options: CallOptions = field(default_factory=CallOptions)

    @property
    def variation(self) -> bool:
        return self.prompt is None
