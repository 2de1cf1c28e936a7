"""g4f's type names (``from g4f.typing import ...`` becomes ``from polymux.typing import``),
for code that annotates its own providers with them. Types only: nothing here runs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from os import PathLike
from typing import IO, Any

from .providers.response import ResponseType

__all__ = [
    "AsyncResult",
    "Cookies",
    "CreateResult",
    "ImageType",
    "MediaListType",
    "Message",
    "Messages",
]

#: One chat message in OpenAI's shape: ``{"role": ..., "content": ...}``.
Message = dict[str, Any]
Messages = list[Message]
#: What a ``create_completion`` generator yields.
CreateResult = Iterator[str | ResponseType]
#: What a ``create_async_generator`` yields.
AsyncResult = AsyncIterator[str | ResponseType]
#: An image: bytes, a path, an open file, a URL or a ``data:`` URI.
ImageType = str | bytes | bytearray | PathLike[str] | IO[bytes]
#: Images (or other media) as ``(data, file name)`` pairs, g4f's ``media=`` argument.
MediaListType = list[tuple[ImageType, str | None]]
Cookies = dict[str, str]
