"""Chat completion objects, field for field those of the OpenAI SDK (``openai.types.chat``).

Extensions beyond OpenAI's schema: ``provider`` (which provider answered, as the seed's project
reports), ``reasoning_content`` (reasoning text, as DeepSeek and vLLM send it), ``parsed``
(structured output) and ``CompletionUsage.estimated`` (True when polymux counted, not the
provider). The OpenAI SDK's models accept extra fields, so these validate there too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from os import PathLike
from typing import Any, Literal

from ._record import OmittedWhenNone, Record

__all__ = [
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatCompletionMessage",
    "ChatCompletionMessageToolCall",
    "Choice",
    "ChoiceDelta",
    "ChoiceDeltaToolCall",
    "ChoiceDeltaToolCallFunction",
    "ChunkChoice",
    "CompletionTokensDetails",
    "CompletionUsage",
    "FinishReason",
    "Function",
    "PromptTokensDetails",
]

#: Why a choice ended, as OpenAI reports it (the one list: provider events use it too).
FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "function_call"]


@dataclass(kw_only=True)
class Function(Record):
    name: str
    arguments: str


@dataclass(kw_only=True)
class ChatCompletionMessageToolCall(Record):
    id: str
    function: Function
    type: Literal["function"] = "function"


@dataclass(kw_only=True)
class ChatCompletionMessage(Record):
    content: str | None = None
    role: Literal["assistant"] = "assistant"
    refusal: str | None = None
    tool_calls: list[ChatCompletionMessageToolCall] | None = None
    annotations: list[Any] | None = None
    audio: Any = None
    function_call: Any = None
    reasoning_content: OmittedWhenNone[str | None] = OmittedWhenNone()
    parsed: OmittedWhenNone[Any] = OmittedWhenNone()

    def save(
        self, filepath: str | PathLike[str], allowed_types: Sequence[str] | None = None
    ) -> None:
        """Write the answer to a file, as g4f's ``message.save``: a ``data:`` URI as its bytes,
        else the text; with ``allowed_types`` (e.g. ``["python"]``), only the first fenced code
        block in one of those languages (nothing is written when there is none)."""
        from ._save import save_message

        save_message(self.content or "", filepath, allowed_types)


@dataclass(kw_only=True)
class Choice(Record):
    index: int
    message: ChatCompletionMessage
    finish_reason: FinishReason
    logprobs: Any = None


@dataclass(kw_only=True)
class PromptTokensDetails(Record):
    cached_tokens: int | None = None
    audio_tokens: int | None = None


@dataclass(kw_only=True)
class CompletionTokensDetails(Record):
    reasoning_tokens: int | None = None
    audio_tokens: int | None = None
    accepted_prediction_tokens: int | None = None
    rejected_prediction_tokens: int | None = None


@dataclass(kw_only=True)
class CompletionUsage(Record):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: PromptTokensDetails | None = None
    completion_tokens_details: CompletionTokensDetails | None = None
    # True when the provider reported no usage and polymux estimated it (about 4 chars/token).
    estimated: OmittedWhenNone[bool | None] = OmittedWhenNone()


@dataclass(kw_only=True)
class ChatCompletion(Record):
    id: str
    choices: list[Choice]
    created: int
    model: str
    object: Literal["chat.completion"] = "chat.completion"
    usage: CompletionUsage | None = None
    system_fingerprint: str | None = None
    service_tier: str | None = None
    provider: OmittedWhenNone[str | None] = OmittedWhenNone()
    # g4f's: the conversation state a g4f-style provider returned, to pass back on the next
    # call as conversation=... (client/g4f.py).
    conversation: OmittedWhenNone[Any] = OmittedWhenNone()


@dataclass(kw_only=True)
class ChoiceDeltaToolCallFunction(Record):
    name: str | None = None
    arguments: str | None = None


@dataclass(kw_only=True)
class ChoiceDeltaToolCall(Record):
    index: int
    id: str | None = None
    function: ChoiceDeltaToolCallFunction | None = None
    type: Literal["function"] | None = None


@dataclass(kw_only=True)
class ChoiceDelta(Record):
    content: str | None = None
    role: Literal["assistant"] | None = None
    refusal: str | None = None
    tool_calls: list[ChoiceDeltaToolCall] | None = None
    function_call: Any = None
    reasoning_content: OmittedWhenNone[str | None] = OmittedWhenNone()


@dataclass(kw_only=True)
class ChunkChoice(Record):
    index: int
    delta: ChoiceDelta = field(default_factory=ChoiceDelta)
    finish_reason: FinishReason | None = None
    logprobs: Any = None


@dataclass(kw_only=True)
class ChatCompletionChunk(Record):
    id: str
    choices: list[ChunkChoice]
    created: int
    model: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    usage: CompletionUsage | None = None
    system_fingerprint: str | None = None
    service_tier: str | None = None
    provider: OmittedWhenNone[str | None] = OmittedWhenNone()
