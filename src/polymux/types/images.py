"""Image and model-list objects, field for field those of the OpenAI SDK."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from os import PathLike
from typing import Any, Literal

from ._record import OmittedWhenNone, Record

__all__ = ["Image", "ImageEditEvent", "ImagesResponse", "Model", "ModelList"]


@dataclass(kw_only=True)
class Image(Record):
    b64_json: str | None = None
    url: str | None = None
    revised_prompt: str | None = None
    # Set when the caller asked for ``save_to=``: where the file was written.
    path: OmittedWhenNone[str | None] = OmittedWhenNone()

    def save(self, path: str | PathLike[str]) -> None:
        """Write the image to ``path`` (g4f's ``Image.save``): from ``b64_json``, a ``data:``
        URL, or the file ``save_to=`` wrote. An http(s) URL is not downloaded here: ask for
        ``response_format="b64_json"`` or ``save_to=`` instead."""
        from ._save import save_image

        save_image(self, path)


@dataclass(kw_only=True)
class ImagesResponse(Record):
    created: int
    data: list[Image] = field(default_factory=list)
    usage: OmittedWhenNone[Any] = OmittedWhenNone()
    provider: OmittedWhenNone[str | None] = OmittedWhenNone()
    # The image model that made them (g4f's field; see client/image_choice.py).
    model: OmittedWhenNone[str | None] = OmittedWhenNone()


@dataclass(kw_only=True)
class Model(Record):
    id: str
    created: int = 0
    owned_by: str = "polymux"
    object: Literal["model"] = "model"
    provider: OmittedWhenNone[str | None] = OmittedWhenNone()


@dataclass(kw_only=True)
class ModelList(Record):
    data: list[Model] = field(default_factory=list)
    object: Literal["list"] = "list"

    def __iter__(self) -> Iterator[Model]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


@dataclass(kw_only=True)
class ImageEditEvent(Record):
    """One event of a streamed image edit (``images.edit(stream=True)``), as the OpenAI
    SDK's ``ImageEditStreamEvent``: ``image_edit.partial_image`` (``partial_image_index``)
    as the image takes shape, then ``image_edit.completed`` (with ``usage``)."""

    type: str
    b64_json: OmittedWhenNone[str | None] = OmittedWhenNone()
    partial_image_index: OmittedWhenNone[int | None] = OmittedWhenNone()
    created_at: OmittedWhenNone[int | None] = OmittedWhenNone()
    size: OmittedWhenNone[str | None] = OmittedWhenNone()
    quality: OmittedWhenNone[str | None] = OmittedWhenNone()
    background: OmittedWhenNone[str | None] = OmittedWhenNone()
    output_format: OmittedWhenNone[str | None] = OmittedWhenNone()
    usage: OmittedWhenNone[dict[str, Any] | None] = OmittedWhenNone()
