"""``multipart/form-data`` bodies (RFC 7578), for the few endpoints that take file uploads
(OpenAI's image edits). Field names and file names are the caller's own constants and
generated names; quotes and line breaks are refused rather than escaped."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

__all__ = ["FilePart", "encode_multipart"]

#: A file field: (file name, bytes, media type).
FilePart = tuple[str, bytes, str]


def _safe(value: str) -> str:
    if any(c in value for c in '"\r\n'):
        raise ValueError(f"not allowed in a multipart header: {value!r}")
    return value


def encode_multipart(fields: Sequence[tuple[str, str | FilePart]]) -> tuple[bytes, str]:
    """The body and its Content-Type for ``fields`` (text values or file parts), in order."""
    boundary = "polymux-" + secrets.token_hex(16)
    out = bytearray()
    for name, value in fields:
        out += f"--{boundary}\r\n".encode()
        if isinstance(value, str):
            out += f'Content-Disposition: form-data; name="{_safe(name)}"\r\n\r\n'.encode()
            out += value.encode()
        else:
            filename, data, media_type = value
            out += (
                f'Content-Disposition: form-data; name="{_safe(name)}"; '
                f'filename="{_safe(filename)}"\r\nContent-Type: {_safe(media_type)}\r\n\r\n'
            ).encode()
            out += data
        out += b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"
