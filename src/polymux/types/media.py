"""Image bytes: what kind of image they are, and the size caps on reading them. Internal (not
part of the public API); the client, the providers and the gateway share it from here, the
lowest layer they all stand on.
"""

from __future__ import annotations

__all__ = ["MAX_GENERATED_IMAGE_BYTES", "MAX_IMAGE_BYTES", "SNIFFED_TYPES", "sniff_media_type"]

#: Largest input image read from a file, bytes or a URL. Every hosted API rejects larger ones.
MAX_IMAGE_BYTES = 20 * 1024 * 1024
#: Largest generated image downloaded from a provider (by the client or a provider itself).
MAX_GENERATED_IMAGE_BYTES = 50 * 1024 * 1024

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
#: The media types ``sniff_media_type`` recognizes.
SNIFFED_TYPES = frozenset({*(media_type for _, media_type in _MAGIC), "image/webp"})


def sniff_media_type(data: bytes) -> str | None:
    """The image type from its first bytes, or None when it is no image we know."""
    for magic, media_type in _MAGIC:
        if data.startswith(magic):
            return media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None
