"""Moderation: the request providers receive and the objects callers get (those of the
OpenAI SDK's ``ModerationCreateResponse``; categories keep OpenAI's own keys, such as
``"self-harm/intent"``, in dicts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from ._record import Record
from .request import CallOptions

__all__ = ["Moderation", "ModerationCreateResponse", "ModerationRequest"]


@dataclass(slots=True, kw_only=True)
class ModerationRequest:
    """A validated moderation request: strings, or multimodal parts (text and image_url)."""

    model: str
    input: str | list[str] | list[dict[str, Any]]
    extra_body: dict[str, Any] = field(default_factory=dict)
    options: CallOptions = field(default_factory=CallOptions)


@dataclass(slots=True, kw_only=True)
class Moderation(Record):
    flagged: bool
    categories: dict[str, bool]
    category_scores: dict[str, float]
    category_applied_input_types: dict[str, list[str]] | None = None

    _omit_when_none: ClassVar[frozenset[str]] = frozenset({"category_applied_input_types"})


@dataclass(slots=True, kw_only=True)
class ModerationCreateResponse(Record):
    id: str
    model: str
    results: list[Moderation]
    provider: str | None = None

    _omit_when_none: ClassVar[frozenset[str]] = frozenset({"provider"})
