"""The closed set of events a provider's ``stream_chat`` yields.

A provider yields plain ``str`` pieces (shorthand for ``TextDelta``) or these typed events;
``polymux.client.fold`` turns them into ``ChatCompletionChunk`` and ``ChatCompletion`` objects.
``index`` is the choice index, for providers that serve ``n > 1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from .chat import FinishReason

__all__ = [
    "ChatEvent",
    "Finish",
    "FinishReason",
    "ReasoningDelta",
    "RefusalDelta",
    "ResponseInfo",
    "TextDelta",
    "ToolCallDelta",
    "Usage",
    "WholeChoice",
]


@dataclass(slots=True)
class TextDelta:
    """A piece of the answer's text."""

    text: str
    index: int = 0


@dataclass(slots=True)
class ReasoningDelta:
    """A piece of the model's reasoning ("thinking") text, kept apart from the answer."""

    text: str
    index: int = 0


@dataclass(slots=True)
class RefusalDelta:
    """A piece of a refusal message (OpenAI's ``refusal`` field)."""

    text: str
    index: int = 0


@dataclass(slots=True)
class ToolCallDelta:
    """A tool call, whole or in pieces. ``call_index`` orders calls within one choice; the
    first delta of a call carries its ``id`` and ``name``, later ones more ``arguments``."""

    call_index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""
    index: int = 0


@dataclass(slots=True)
class Usage:
    """Token counts as the provider reported them."""

    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None
    #: The total as reported, when the provider reports one: it can hold tokens neither count
    #: shows (Gemini's OpenAI-compatible endpoint counts thinking only here). None: the sum.
    total_tokens: int | None = None


@dataclass(slots=True)
class Finish:
    """Why a choice ended, already mapped to OpenAI's vocabulary."""

    reason: FinishReason
    index: int = 0


@dataclass(slots=True)
class ResponseInfo:
    """Upstream metadata (response id, the model that actually answered). Optional."""

    id: str | None = None
    model: str | None = None
    created: int | None = None
    system_fingerprint: str | None = None


@dataclass(slots=True)
class WholeChoice:
    """One whole choice of a non-streamed answer (``complete_chat`` only): the same as its
    reasoning, text, refusal, tool calls and finish sent as deltas, in one event.

    ``tool_calls`` are whole calls: ``ToolCallDelta`` with the call's full arguments and this
    choice's ``index``."""

    text: str = ""
    finish: FinishReason | None = None
    index: int = 0
    reasoning: str = ""
    refusal: str = ""
    tool_calls: list[ToolCallDelta] | None = None

    @property
    def has_content(self) -> bool:
        return bool(self.text or self.reasoning or self.refusal or self.tool_calls)

    def deltas(self) -> list[ChatEvent]:
        """The same choice as the delta events a stream would carry."""
        index = self.index
        out: list[ChatEvent] = []
        if self.reasoning:
            out.append(ReasoningDelta(self.reasoning, index))
        if self.text:
            out.append(TextDelta(self.text, index))
        if self.refusal:
            out.append(RefusalDelta(self.refusal, index))
        out.extend(self.tool_calls or ())
        if self.finish is not None:
            out.append(Finish(self.finish, index))
        return out


ChatEvent: TypeAlias = (
    str
    | TextDelta
    | ReasoningDelta
    | RefusalDelta
    | ToolCallDelta
    | Usage
    | Finish
    | ResponseInfo
    | WholeChoice
)
