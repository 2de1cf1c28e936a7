"""``multipart/form-data`` bodies for the uploads providers take (image edits, audio).

The body is built once as bytes: a retry re-sends the same bytes, and the transport's size
and time limits apply as to any other body. Field names and file names are quoted per RFC
7578 (a quote, CR or LF in a name is percent-encoded, as browsers do), so nothing a caller
names can add a header or a part.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from ..types.uploads import FilePart

__all__ = ["encode_multipart"]


def _quote(value: str) -> str:
    return value.replace("\r", "%0D").replace("\n", "%0A").replace('"', "%22")


def encode_multipart(
    fields: Sequence[tuple[str, str]], files: Sequence[tuple[str, FilePart]]
) -> tuple[str, bytes]:
    """(the Content-Type header, the body)."""
    boundary = "polymux-" + secrets.token_hex(16)
    out: list[bytes] = []
    for name, value in fields:
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{_quote(name)}"\r\n\r\n'
        out.append(head.encode())
        out.append(value.encode())
        out.append(b"\r\n")
    for name, part in files:
        media_type = _quote(part.media_type)
        out.append(
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{_quote(name)}"; '
                f'filename="{_quote(part.filename)}"\r\nContent-Type: {media_type}\r\n\r\n'
            ).encode()
        )
        out.append(part.data)
        out.append(b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", b"".join(out)
