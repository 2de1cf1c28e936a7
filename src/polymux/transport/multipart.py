"""``multipart/form-data`` bodies for the uploads providers take (image edits, audio).

The body is never joined into one buffer: its pieces (the part headers, the fields, the
files) are sent one after another, a file given as bytes as the caller's own bytes (in slices
of a memoryview, not copied) and a file given as a path or file object read from disk in
chunks as the socket takes them. Its exact size is known before sending (sent as
``Content-Length``, as the upstreams expect), and each attempt reads the body afresh, so a
retry sends it whole again. A file that shrinks or grows while it is sent is a clear error,
never a body that disagrees with its length.

Field names and file names are quoted per RFC 7578 (a quote, CR or LF in a name is
percent-encoded, as browsers do), so nothing a caller names can add a header or a part.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import IO, Any

import orjson

from ..errors import InvalidRequestError
from ..types.uploads import FilePart
from .base import StreamedBody

__all__ = ["CHUNK", "MultipartBody", "encode_multipart", "form_fields", "part_bytes"]

#: Bytes read from a file (or sliced from bytes) per piece sent.
CHUNK = 256 * 1024


def _quote(value: str) -> str:
    return value.replace("\r", "%0D").replace("\n", "%0A").replace('"', "%22")


class MultipartBody(StreamedBody):
    """A form of text ``fields`` and ``files``, streamed (see the module docstring)."""

    __slots__ = ("_pieces", "content_type", "size")

    def __init__(
        self, fields: Sequence[tuple[str, str]], files: Sequence[tuple[str, FilePart]]
    ) -> None:
        boundary = "polymux-" + secrets.token_hex(16)
        self.content_type = f"multipart/form-data; boundary={boundary}"
        # bytes (headers, fields, files given as bytes) or a FilePart read when sent.
        pieces: list[bytes | memoryview | FilePart] = []
        for name, value in fields:
            head = f'--{boundary}\r\nContent-Disposition: form-data; name="{_quote(name)}"\r\n\r\n'
            pieces.append(head.encode() + value.encode() + b"\r\n")
        for name, part in files:
            pieces.append(
                (
                    f'--{boundary}\r\nContent-Disposition: form-data; name="{_quote(name)}"; '
                    f'filename="{_quote(part.filename)}"\r\n'
                    f"Content-Type: {_quote(part.media_type)}\r\n\r\n"
                ).encode()
            )
            pieces.append(part if part.source is not None else part.data)
            pieces.append(b"\r\n")
        pieces.append(f"--{boundary}--\r\n".encode())
        self._pieces = pieces
        self.size = sum(p.size if isinstance(p, FilePart) else len(p) for p in pieces)

    async def chunks(self) -> AsyncIterator[bytes | memoryview]:
        for piece in self._pieces:
            if isinstance(piece, FilePart):
                async for chunk in _read(piece):
                    yield chunk
            elif len(piece) <= CHUNK:
                yield piece
            else:
                view = memoryview(piece)
                for start in range(0, len(piece), CHUNK):
                    yield view[start : start + CHUNK]

    def __repr__(self) -> str:
        return f"<MultipartBody {self.size} bytes>"


async def _read(part: FilePart) -> AsyncIterator[bytes]:
    """The bytes of a file part's source, exactly ``part.size`` of them; reads run in a
    thread (a disk or network file system can block), one chunk at a time."""
    source = part.source
    assert source is not None
    loop = asyncio.get_running_loop()
    file: IO[bytes]
    if isinstance(source, str):
        try:
            file = await loop.run_in_executor(None, open, source, "rb")
        except OSError as exc:
            raise InvalidRequestError(f"cannot read {source}: {exc.strerror}") from exc
        close = True
    else:
        file = source
        await loop.run_in_executor(None, file.seek, part.start)
        close = False
    try:
        left = part.size
        while left > 0:
            chunk = await loop.run_in_executor(None, file.read, min(CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk
        if left or await loop.run_in_executor(None, _has_more, file):
            raise InvalidRequestError(
                f"{part.filename}: the file changed size while it was being uploaded"
            )
    finally:
        if close:
            file.close()


async def part_bytes(part: FilePart) -> bytes | memoryview:
    """All of a file part's bytes, for an upstream that takes them inline (Gemini's base64
    parts): read from its source (in chunks, in a thread) when it has one."""
    if part.source is None:
        return part.data
    return b"".join([chunk async for chunk in _read(part)])


def _has_more(file: IO[bytes]) -> bool:
    return bool(file.read(1))


def form_fields(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Request fields (a call's ``extra_body``) as text form fields, spelled as the OpenAI
    SDK spells them: an array as repeated ``name[]`` fields, an object's members as
    ``name[key]``, booleans as ``true``/``false``, other values as JSON."""
    out: list[tuple[str, str]] = []
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            key = name if name.endswith("[]") else name + "[]"
            out += [(key, _text(item)) for item in value]
        elif isinstance(value, Mapping):
            out += form_fields({f"{name}[{k}]": v for k, v in value.items()})
        else:
            out.append((name, _text(value)))
    return out


def _text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def encode_multipart(
    fields: Sequence[tuple[str, str]], files: Sequence[tuple[str, FilePart]]
) -> MultipartBody:
    """The streamed body of a form (its ``content_type`` is the header to send with it)."""
    return MultipartBody(fields, files)
