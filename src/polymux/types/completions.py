"""The legacy text completion objects, field for field those of the OpenAI SDK's
``Completion`` (streamed chunks and whole answers share the shape)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from ._record import Record
from .chat import CompletionUsage

__all__ = ["Completion", "CompletionChoice"]


@dataclass(slots=True, kw_only=True)
class CompletionChoice(Record):
    # None only in a streamed chunk before the choice's last one.
    finish_reason: Literal["stop", "length", "content_filter"] | None
    index: int
    text: str
    logprobs: Any = None


@dataclass(slots=True, kw_only=True)
class Completion(Record):
    id: str
    choices: list[CompletionChoice]
    created: int
    model: str
    object: Literal["text_completion"] = "text_completion"
    system_fingerprint: str | None = None
    usage: CompletionUsage | None = None
    provider: str | None = None

    _omit_when_none: ClassVar[frozenset[str]] = frozenset({"provider"})
