"""Writing answers and images to files (``ChatCompletionMessage.save``, ``Image.save``)."""

from __future__ import annotations

import base64
import binascii
import re
import shutil
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InvalidRequestError

if TYPE_CHECKING:
    from .images import Image

__all__ = ["save_image", "save_message"]

_FENCE = re.compile(r"```([\w+-]*)[^\n]*\n(.*?)```", re.DOTALL)


def _data_uri_bytes(uri: str) -> bytes:
    header, sep, payload = uri.partition(",")
    if not sep or ";base64" not in header:
        raise InvalidRequestError("only base64 data: URIs can be saved")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequestError(f"the data: URI holds invalid base64: {exc}") from exc


def save_message(
    content: str, filepath: str | PathLike[str], allowed_types: Sequence[str] | None
) -> None:
    path = Path(filepath)
    if content.startswith("data:"):
        path.write_bytes(_data_uri_bytes(content))
        return
    if not allowed_types:
        path.write_text(content, encoding="utf-8")
        return
    wanted = {t.lower() for t in allowed_types}
    for language, body in _FENCE.findall(content):
        if language.lower() in wanted:
            path.write_text(body, encoding="utf-8")
            return


def save_image(image: Image, filepath: str | PathLike[str]) -> None:
    path = Path(filepath)
    if image.b64_json is not None:
        try:
            path.write_bytes(base64.b64decode(image.b64_json, validate=True))
        except (binascii.Error, ValueError) as exc:
            raise InvalidRequestError(f"b64_json holds invalid base64: {exc}") from exc
    elif image.url and image.url.startswith("data:"):
        path.write_bytes(_data_uri_bytes(image.url))
    elif image.path is not None:
        shutil.copyfile(image.path, path)
    else:
        raise InvalidRequestError(
            "this image is a URL; to save it, generate with response_format='b64_json' or "
            "save_to='<directory>'"
        )
