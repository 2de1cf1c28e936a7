"""``GET /media/<name>``: images the gateway saved, by the names it generated.

Nothing from the request path reaches the file system unless it is a bare generated-style
name (letters, digits, ``_``/``-``, one known image extension): no separators, no dots
beyond the extension, so no traversal; the resolved file must still sit directly in the media
folder (a symlink planted there cannot lead out).
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

from .asgi import send_bytes
from .errormap import GatewayHTTPError

if TYPE_CHECKING:
    from .app import Call, Gateway

__all__ = ["PREFIX", "handle"]

PREFIX = "/media/"
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}\.(png|jpg|gif|webp|img)$")
_TYPES = {
    "png": b"image/png",
    "jpg": b"image/jpeg",
    "gif": b"image/gif",
    "webp": b"image/webp",
    "img": b"application/octet-stream",
}
MAX_MEDIA_BYTES = 64 * 1024 * 1024


def _not_found() -> GatewayHTTPError:
    return GatewayHTTPError(404, "no such media file", code="not_found")


async def handle(gateway: Gateway, call: Call) -> None:
    directory = gateway.media_dir
    name = call.scope["path"][len(PREFIX) :]
    match = _NAME.match(name)
    if directory is None or match is None:
        raise _not_found()
    root = directory.resolve()
    path = (root / name).resolve()
    if path.parent != root or not path.is_file() or path.stat().st_size > MAX_MEDIA_BYTES:
        raise _not_found()
    data = await asyncio.to_thread(path.read_bytes)
    await send_bytes(
        call.send,
        200,
        data,
        [
            (b"content-type", _TYPES[match.group(1)]),
            (b"cache-control", b"private, max-age=86400"),
            (b"x-content-type-options", b"nosniff"),
        ],
    )
