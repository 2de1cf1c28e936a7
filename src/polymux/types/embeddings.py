"""Embeddings: the request providers receive, what they return, and the objects callers get
(field for field those of the OpenAI SDK's ``CreateEmbeddingResponse``).

A vector travels as floats or as OpenAI's base64 form (the float32 values, little-endian,
base64-encoded): a host that answers base64 is cheaper to read, and a caller that asks for
base64 gets it without a round trip through Python floats. ``vector_floats`` and
``vector_base64`` convert between the two.
"""

from __future__ import annotations

import base64
import sys
from array import array
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from ._record import Record
from .request import CallOptions

__all__ = [
    "CreateEmbeddingResponse",
    "Embedding",
    "EmbeddingBatch",
    "EmbeddingRequest",
    "EmbeddingUsage",
    "Vector",
    "vector_base64",
    "vector_floats",
]

#: One embedding: its floats, or OpenAI's base64 of the float32 values (little-endian).
Vector = list[float] | str
_SWAP = sys.byteorder == "big"  # the wire form is little-endian; array() is native


def vector_floats(vector: Vector) -> list[float]:
    """The vector as floats (decoding the base64 form)."""
    if isinstance(vector, str):
        values = array("f", base64.b64decode(vector))
        if _SWAP:
            values.byteswap()
        return values.tolist()
    return vector


def vector_base64(vector: Vector) -> str:
    """The vector in OpenAI's base64 form (float32, little-endian)."""
    if isinstance(vector, str):
        return vector
    values = array("f", vector)
    if _SWAP:
        values.byteswap()
    return base64.b64encode(values.tobytes()).decode("ascii")


@dataclass(slots=True, kw_only=True)
class EmbeddingRequest:
    """A validated embeddings request: ``inputs`` are strings, or token arrays (lists of
    ints), never both; a provider receives at most its ``embeddings_per_call`` of them."""

    model: str
    inputs: list[str] | list[list[int]]
    dimensions: int | None = None
    encoding_format: Literal["float", "base64"] = "float"
    user: str | None = None
    extra_body: dict[str, object] = field(default_factory=dict)
    options: CallOptions = field(default_factory=CallOptions)

    @property
    def tokens(self) -> bool:
        """Whether the inputs are token arrays rather than text."""
        return bool(self.inputs) and not isinstance(self.inputs[0], str)


@dataclass(slots=True, kw_only=True)
class EmbeddingBatch:
    """What a provider returns for one request: a vector per input, in input order, and
    the tokens it counted (None when it reports none; the client then estimates)."""

    vectors: list[Vector]
    prompt_tokens: int | None = None
    #: The model id the upstream says it used, when it says.
    model: str | None = None


@dataclass(slots=True, kw_only=True)
class Embedding(Record):
    embedding: list[float] | str
    index: int
    object: Literal["embedding"] = "embedding"


@dataclass(slots=True, kw_only=True)
class EmbeddingUsage(Record):
    prompt_tokens: int
    total_tokens: int
    # True when the provider reported no token count and polymux estimated it.
    estimated: bool | None = None

    _omit_when_none: ClassVar[frozenset[str]] = frozenset({"estimated"})


@dataclass(slots=True, kw_only=True)
class CreateEmbeddingResponse(Record):
    data: list[Embedding]
    model: str
    usage: EmbeddingUsage
    object: Literal["list"] = "list"
    provider: str | None = None

    _omit_when_none: ClassVar[frozenset[str]] = frozenset({"provider"})

    def __len__(self) -> int:
        return len(self.data)
