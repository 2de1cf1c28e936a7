"""Responses API objects, field for field those of the OpenAI SDK (``openai.types.responses``)
for what polymux produces: message, function-call and reasoning output items, usage, errors,
and the stream's events. ``Response.from_dict`` reads one back from its JSON (stored
responses). Extension: ``provider`` (which provider answered), left out while unset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from ._record import Record, dump

__all__ = [
    "IncompleteDetails",
    "InputTokensDetails",
    "OutputTokensDetails",
    "Response",
    "ResponseError",
    "ResponseFunctionToolCall",
    "ResponseItemList",
    "ResponseOtherItem",
    "ResponseOutputItem",
    "ResponseOutputMessage",
    "ResponseOutputRefusal",
    "ResponseOutputText",
    "ResponseReasoningItem",
    "ResponseStreamEvent",
    "ResponseUsage",
    "Summary",
    "output_item",
]


@dataclass(slots=True)
class ResponseOutputText(Record):
    text: str
    annotations: list[Any] = field(default_factory=list)
    type: Literal["output_text"] = "output_text"
    logprobs: list[Any] | None = None
    #: ``responses.parse``: the text validated into the caller's model.
    parsed: Any = None

    _omit_when_none: ClassVar[frozenset[str]] = frozenset({"logprobs", "parsed"})


@dataclass(slots=True)
class ResponseOutputRefusal(Record):
    refusal: str
    type: Literal["refusal"] = "refusal"


@dataclass(slots=True)
class ResponseOutputMessage(Record):
    id: str
    content: list[ResponseOutputText | ResponseOutputRefusal]
    role: Literal["assistant"] = "assistant"
    status: Literal["in_progress", "completed", "incomplete"] = "completed"
    type: Literal["message"] = "message"


@dataclass(slots=True)
class ResponseFunctionToolCall(Record):
    arguments: str
    call_id: str
    name: str
    id: str | None = None
    status: Literal["in_progress", "completed", "incomplete"] | None = "completed"
    type: Literal["function_call"] = "function_call"


@dataclass(slots=True)
class Summary(Record):
    text: str
    type: Literal["summary_text"] = "summary_text"


@dataclass(slots=True)
class ResponseReasoningItem(Record):
    id: str
    summary: list[Summary]
    type: Literal["reasoning"] = "reasoning"
    status: Literal["in_progress", "completed", "incomplete"] | None = "completed"


class _Fields(Record):
    """An object whose fields are whatever the API sent (a dict), read as attributes; its
    dump is those fields. A Record for dumps only: not a dataclass."""

    __slots__ = ()
    fields: dict[str, Any]
    type: str

    def __getattr__(self, name: str) -> Any:
        try:
            return self.fields[name]
        except KeyError:
            raise AttributeError(name) from None

    def model_dump(self, *, exclude_none: bool = False) -> dict[str, Any]:
        return dict(dump(self.fields, exclude_none))


class ResponseOtherItem(_Fields):
    """An output item of a kind polymux does not build itself (a web search call, an image
    generation ...), as OpenAI sent it natively."""

    __slots__ = ("fields", "type")

    def __init__(self, fields: dict[str, Any]) -> None:
        self.type = str(fields.get("type"))
        self.fields = fields

    def __repr__(self) -> str:
        return f"<ResponseOtherItem {self.type}>"


ResponseOutputItem = (
    ResponseOutputMessage | ResponseFunctionToolCall | ResponseReasoningItem | ResponseOtherItem
)


@dataclass(slots=True)
class InputTokensDetails(Record):
    cached_tokens: int = 0
    cache_write_tokens: int = 0


@dataclass(slots=True)
class OutputTokensDetails(Record):
    reasoning_tokens: int = 0


@dataclass(slots=True)
class ResponseUsage(Record):
    input_tokens: int
    output_tokens: int
    total_tokens: int
    input_tokens_details: InputTokensDetails = field(default_factory=InputTokensDetails)
    output_tokens_details: OutputTokensDetails = field(default_factory=OutputTokensDetails)


@dataclass(slots=True)
class ResponseError(Record):
    code: str
    message: str


@dataclass(slots=True)
class IncompleteDetails(Record):
    reason: Literal["max_output_tokens", "content_filter"]


@dataclass(slots=True)
class Response(Record):
    id: str
    created_at: float
    model: str
    output: list[ResponseOutputItem]
    object: Literal["response"] = "response"
    status: Literal["completed", "failed", "in_progress", "incomplete"] = "completed"
    error: ResponseError | None = None
    incomplete_details: IncompleteDetails | None = None
    instructions: str | None = None
    metadata: dict[str, str] | None = None
    parallel_tool_calls: bool = True
    temperature: float | None = None
    top_p: float | None = None
    max_output_tokens: int | None = None
    previous_response_id: str | None = None
    reasoning: dict[str, Any] | None = None
    text: dict[str, Any] = field(default_factory=lambda: {"format": {"type": "text"}})
    tool_choice: Any = "auto"
    tools: list[dict[str, Any]] = field(default_factory=list)
    truncation: Literal["auto", "disabled"] | None = "disabled"
    usage: ResponseUsage | None = None
    user: str | None = None
    store: bool = True
    provider: str | None = None

    _omit_when_none: ClassVar[frozenset[str]] = frozenset({"provider"})

    @property
    def output_text(self) -> str:
        """The text of every output_text part, joined (as the OpenAI SDK has it)."""
        return "".join(
            part.text
            for item in self.output
            if isinstance(item, ResponseOutputMessage)
            for part in item.content
            if isinstance(part, ResponseOutputText)
        )

    @property
    def output_parsed(self) -> Any:
        """``responses.parse``: the first parsed output_text part, else None."""
        for item in self.output:
            if isinstance(item, ResponseOutputMessage):
                for part in item.content:
                    if isinstance(part, ResponseOutputText) and part.parsed is not None:
                        return part.parsed
        return None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Response:
        """A Response from its JSON (``model_dump()``), as a store keeps it."""
        values = dict(data)
        values["output"] = [output_item(item) for item in data.get("output") or ()]
        if data.get("usage"):
            usage = data["usage"]
            values["usage"] = ResponseUsage(
                usage["input_tokens"],
                usage["output_tokens"],
                usage["total_tokens"],
                InputTokensDetails(**(usage.get("input_tokens_details") or {})),
                OutputTokensDetails(**(usage.get("output_tokens_details") or {})),
            )
        if data.get("error"):
            values["error"] = ResponseError(**data["error"])
        if data.get("incomplete_details"):
            values["incomplete_details"] = IncompleteDetails(**data["incomplete_details"])
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in values.items() if k in known})


def output_item(data: dict[str, Any]) -> ResponseOutputItem:
    """An output item from its JSON."""
    kind = data.get("type")
    if kind not in ("message", "function_call", "reasoning"):
        return ResponseOtherItem(data)
    if kind == "function_call":
        return ResponseFunctionToolCall(
            data["arguments"], data["call_id"], data["name"], data.get("id"), data.get("status")
        )
    if kind == "reasoning":
        summary = [Summary(s["text"]) for s in data.get("summary") or ()]
        return ResponseReasoningItem(data["id"], summary, status=data.get("status"))
    content: list[ResponseOutputText | ResponseOutputRefusal] = [
        ResponseOutputRefusal(p["refusal"])
        if p.get("type") == "refusal"
        else ResponseOutputText(p["text"], list(p.get("annotations") or ()))
        for p in data.get("content") or ()
    ]
    return ResponseOutputMessage(data["id"], content, status=data.get("status") or "completed")


class ResponseStreamEvent(_Fields):
    """One event of a streamed response: ``type``, ``sequence_number`` and the fields of that
    event type (``delta``, ``item``, ``response`` ...), read as attributes. ``model_dump()``
    gives the JSON that OpenAI sends, which ``openai.types.responses`` validates."""

    __slots__ = ("fields", "sequence_number", "type")

    def __init__(self, type: str, sequence_number: int, fields: dict[str, Any]) -> None:
        self.type = type
        self.sequence_number = sequence_number
        self.fields = fields

    def __repr__(self) -> str:
        return f"<ResponseStreamEvent {self.type} #{self.sequence_number}>"

    def model_dump(self, *, exclude_none: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "sequence_number": self.sequence_number}
        out.update(super().model_dump(exclude_none=exclude_none))
        return out


@dataclass(slots=True)
class ResponseItemList(Record):
    """``input_items.list``: a response's input items, newest last."""

    data: list[dict[str, Any]]
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool = False
    object: Literal["list"] = "list"
