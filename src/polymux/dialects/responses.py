"""The OpenAI Responses dialect, shared by the client's ``responses`` resource and the
gateway's ``/v1/responses`` front door (which runs the client's).

Requests: ``input`` (a string or items: messages with input_text / input_image / input_file
parts, function_call, function_call_output, reasoning) -> input items with ids
(``input_items``) -> Chat Completions messages (``chat_messages``); ``instructions``, tools,
tool_choice, ``text.format``, ``reasoning`` and the sampling fields -> chat parameters
(``chat_params``). Built-in tools (web_search, file_search, ...) have no Chat Completions
equivalent and are refused with ``UnsupportedCapabilityError``.

Answers: ``ResponseBuilder`` turns chat completion chunks (or one whole ``ChatCompletion``)
into the Responses stream's semantic events, numbered, and the final ``Response``.
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Mapping
from typing import Any, TypeVar

import orjson

from ..errors import InvalidRequestError, RateLimitError, UnsupportedCapabilityError
from ..types.chat import ChatCompletion, ChatCompletionChunk, CompletionUsage
from ..types.request import WEB_SEARCH, web_search_options
from ..types.responses import (
    IncompleteDetails,
    InputTokensDetails,
    OutputTokensDetails,
    Response,
    ResponseError,
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputRefusal,
    ResponseOutputText,
    ResponseReasoningItem,
    ResponseStreamEvent,
    ResponseUsage,
    Summary,
)

__all__ = [
    "ResponseBuilder",
    "chat_messages",
    "chat_params",
    "history_of",
    "input_items",
    "new_id",
    "new_response",
]

#: Fields of ``responses.create`` copied onto the Response as given.
ECHOED = (
    "instructions",
    "metadata",
    "temperature",
    "top_p",
    "max_output_tokens",
    "previous_response_id",
    "reasoning",
    "tool_choice",
    "truncation",
    "user",
)


_T = TypeVar("_T")

#: The output items the builder makes (OpenAI's other kinds come only through passthrough).
_Built = ResponseOutputMessage | ResponseFunctionToolCall | ResponseReasoningItem


def new_id(prefix: str) -> str:
    """An id like OpenAI's (``resp_…``, ``msg_…``): unique, not secret (see fold.py)."""
    return f"{prefix}_{random.getrandbits(128):032x}"


def _need(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidRequestError(message)


# -- requests ------------------------------------------------------------------------------------
_ROLES = frozenset({"user", "assistant", "system", "developer"})


def _message_item(item: Mapping[str, Any], where: str) -> dict[str, Any]:
    role = item.get("role")
    _need(role in _ROLES, f"{where}.role must be user, assistant, system or developer")
    content = item.get("content")
    if isinstance(content, str):
        kind = "output_text" if role == "assistant" else "input_text"
        content = [{"type": kind, "text": content}]
    _need(
        isinstance(content, list) and all(isinstance(p, Mapping) for p in content),
        f"{where}.content must be a string or a list of content part objects",
    )
    return {
        "id": item.get("id") or new_id("msg"),
        "type": "message",
        "role": role,
        "content": [dict(p) for p in content or ()],
        "status": "completed",
    }


def input_items(value: Any) -> list[dict[str, Any]]:
    """``input`` as a list of items, each with an id (as ``input_items.list`` shows them)."""
    if isinstance(value, str):
        return [_message_item({"role": "user", "content": value}, "input")]
    _need(
        isinstance(value, list) and bool(value),
        'input must be a string or a non-empty list of items like {"role": "user", "content": ...}',
    )
    items: list[dict[str, Any]] = []
    for i, item in enumerate(value):
        where = f"input[{i}]"
        _need(isinstance(item, Mapping), f"{where} must be an object")
        kind = item.get("type", "message")
        if kind == "message":
            items.append(_message_item(item, where))
        elif kind == "function_call":
            _need(
                isinstance(item.get("call_id"), str) and isinstance(item.get("name"), str),
                f"{where}: a function_call item needs call_id and name",
            )
            items.append({"id": new_id("fc"), "status": "completed", **item})
        elif kind == "function_call_output":
            _need(isinstance(item.get("call_id"), str), f"{where}: needs the call_id it answers")
            items.append({"id": new_id("fco"), "status": "completed", **item})
        elif kind == "reasoning":
            items.append(dict(item))
        else:
            raise UnsupportedCapabilityError(
                f"{where}: {kind!r} items are not supported; send messages, function_call, "
                "function_call_output and reasoning items"
            )
    return items


def _part(part: Any, where: str) -> dict[str, Any]:
    _need(isinstance(part, Mapping), f"{where} must be a content part object")
    kind = part.get("type")
    if kind in ("input_text", "output_text", "text"):
        _need(isinstance(part.get("text"), str), f"{where}: a text part needs its text")
        return {"type": "text", "text": part["text"]}
    if kind == "refusal":
        return {"type": "text", "text": str(part.get("refusal") or "")}
    if kind == "input_image":
        url = part.get("image_url")
        _need(
            isinstance(url, str),
            f"{where}: input_image needs image_url (a URL or data: URI); file_id is not served",
        )
        image: dict[str, Any] = {"url": url}
        if part.get("detail"):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_file":
        _need(
            isinstance(part.get("file_data"), str),
            f"{where}: input_file needs file_data (a data: URI); file_id and file_url are not "
            "served",
        )
        file = {"file_data": part["file_data"], "filename": part.get("filename") or "file"}
        return {"type": "file", "file": file}
    raise UnsupportedCapabilityError(f"{where}: {kind!r} content parts are not supported")


def _output_text(output: Any) -> str:
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        return "".join(str(p.get("text", "")) for p in output if isinstance(p, Mapping))
    return orjson.dumps(output).decode()


def chat_messages(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Input items -> Chat Completions messages. Consecutive function calls (and the text of
    the assistant message just before them) make one assistant message; reasoning items are
    left out (another provider cannot read them back)."""
    out: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        where = f"input[{i}]"
        kind = item.get("type", "message")
        if kind == "message":
            parts = [_part(p, f"{where}.content[{j}]") for j, p in enumerate(item["content"])]
            role = item["role"]
            if role in ("assistant", "system", "developer"):
                content: Any = "".join(p.get("text", "") for p in parts if p["type"] == "text")
            else:
                content = parts
            out.append({"role": role, "content": content})
        elif kind == "function_call":
            call = {
                "id": item["call_id"],
                "type": "function",
                "function": {"name": item["name"], "arguments": item.get("arguments") or "{}"},
            }
            last = out[-1] if out else None
            if last is not None and last["role"] == "assistant":
                last.setdefault("tool_calls", []).append(call)
            else:
                out.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            text = _output_text(item.get("output"))
            out.append({"role": "tool", "tool_call_id": item["call_id"], "content": text})
    return out


def history_of(response: Response) -> list[dict[str, Any]]:
    """A response's output as the Chat Completions messages that continue its conversation."""
    items = [
        item.model_dump()
        for item in response.output
        if isinstance(item, (ResponseFunctionToolCall, ResponseOutputMessage))
    ]
    return chat_messages(items)


#: Built-in web search tool types: translated to the provider's own search (``WEB_SEARCH``).
WEB_SEARCH_TOOLS = frozenset(
    {"web_search", "web_search_preview", "web_search_2025_08_26", "web_search_preview_2025_03_11"}
)


def _tools(tools: Any, out: dict[str, Any]) -> list[dict[str, Any]]:
    _need(isinstance(tools, list), "tools must be a list")
    functions = []
    for i, tool in enumerate(tools):
        _need(isinstance(tool, Mapping), f"tools[{i}] must be an object")
        kind = tool.get("type")
        if kind in WEB_SEARCH_TOOLS:
            options = web_search_options(tool.get("user_location"), tool.get("search_context_size"))
            out.setdefault("extra_body", {})[WEB_SEARCH] = options
            continue
        if kind != "function":
            raise UnsupportedCapabilityError(
                f"tools[{i}] is the built-in {kind!r} tool, which polymux serves only when the "
                "upstream is OpenAI itself (web_search also on Anthropic, Gemini and "
                "Perplexity); define a function tool instead"
            )
        _need(isinstance(tool.get("name"), str), f"tools[{i}] needs a name")
        function: dict[str, Any] = {
            "name": tool["name"],
            "parameters": tool.get("parameters") or {"type": "object", "properties": {}},
        }
        for name in ("description", "strict"):
            if tool.get(name) is not None:
                function[name] = tool[name]
        functions.append({"type": "function", "function": function})
    return functions


def _tool_choice(choice: Any) -> Any:
    if isinstance(choice, str):
        return choice
    _need(isinstance(choice, Mapping), "tool_choice must be a string or an object")
    if choice.get("type") == "function" and isinstance(choice.get("name"), str):
        return {"type": "function", "function": {"name": choice["name"]}}
    raise UnsupportedCapabilityError(
        f"tool_choice {dict(choice)!r} is not supported: use auto, none, required or "
        '{"type": "function", "name": ...}'
    )


def _format(text: Any) -> dict[str, Any] | None:
    _need(isinstance(text, Mapping), 'text must be an object like {"format": {...}}')
    fmt = text.get("format")
    if fmt is None:
        return None
    _need(isinstance(fmt, Mapping), "text.format must be an object")
    kind = fmt.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    _need(kind == "json_schema", "text.format.type must be text, json_object or json_schema")
    spec = {k: fmt[k] for k in ("name", "schema", "strict", "description") if k in fmt}
    _need(isinstance(spec.get("schema"), Mapping), "text.format json_schema needs a schema")
    spec.setdefault("name", "response")
    return {"type": "json_schema", "json_schema": spec}


def chat_params(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The Chat Completions parameters (besides messages) for these ``responses.create``
    fields."""
    out: dict[str, Any] = {}
    if fields.get("tools"):
        functions = _tools(fields["tools"], out)
        if functions:
            out["tools"] = functions
    if fields.get("tool_choice") is not None:
        out["tool_choice"] = _tool_choice(fields["tool_choice"])
    if fields.get("text") is not None:
        fmt = _format(fields["text"])
        if fmt is not None:
            out["response_format"] = fmt
    reasoning = fields.get("reasoning")
    if reasoning is not None:
        _need(isinstance(reasoning, Mapping), 'reasoning must be an object like {"effort": ...}')
        if reasoning.get("effort") is not None:
            out["reasoning_effort"] = reasoning["effort"]
    if fields.get("max_output_tokens") is not None:
        out["max_tokens"] = fields["max_output_tokens"]
    for name in ("temperature", "top_p", "parallel_tool_calls", "user"):
        if fields.get(name) is not None:
            out[name] = fields[name]
    return out


# -- answers -------------------------------------------------------------------------------------
def _usage(usage: CompletionUsage | None) -> ResponseUsage | None:
    if usage is None:
        return None
    prompt = usage.prompt_tokens_details
    completion = usage.completion_tokens_details
    return ResponseUsage(
        usage.prompt_tokens,
        usage.completion_tokens,
        usage.total_tokens,
        InputTokensDetails((prompt.cached_tokens if prompt else None) or 0),
        OutputTokensDetails((completion.reasoning_tokens if completion else None) or 0),
    )


def _error_code(exc: BaseException) -> str:
    # The Response error codes OpenAI defines are about prompts and images; of the failures a
    # gateway sees only rate limits have their own.
    return "rate_limit_exceeded" if isinstance(exc, RateLimitError) else "server_error"


class ResponseBuilder:
    """One answer -> the Responses stream's events and the final ``Response``.

    ``start()`` gives response.created and response.in_progress; ``feed(chunk)`` the events
    of one chat chunk (output items opened and closed as the answer moves from reasoning to
    text to tool calls); ``finish()`` closes the last item and ends with response.completed
    (or response.incomplete when the token limit or a content filter cut it); ``fail(exc)``
    ends with response.failed. ``whole(completion)`` builds the Response of a non-streamed
    answer through the same steps. Events are numbered from 0 (``sequence_number``).
    """

    def __init__(self, response: Response) -> None:
        self.response = response
        self._seq = 0
        self._open: _Built | None = None
        self._calls: dict[int, ResponseFunctionToolCall] = {}
        self._finish: str | None = None
        self._streamed = True

    # -- events ----------------------------------------------------------------------------------
    def _event(self, kind: str, **fields: Any) -> ResponseStreamEvent:
        event = ResponseStreamEvent(kind, self._seq, fields)
        self._seq += 1
        return event

    def _frozen(self, value: _T) -> _T:
        """A copy for an event, as the value is now (it goes on changing). A whole answer's
        events are never seen: no copy then."""
        return copy.deepcopy(value) if self._streamed else value

    def _snapshot(self, status: str) -> Response:
        snap = copy.deepcopy(self.response)
        snap.status = status  # type: ignore[assignment]
        return snap

    def start(self) -> list[ResponseStreamEvent]:
        self.response.status = "in_progress"
        return [
            self._event("response.created", response=self._snapshot("in_progress")),
            self._event("response.in_progress", response=self._snapshot("in_progress")),
        ]

    def _index(self, item: _Built) -> int:
        return next(i for i, x in enumerate(self.response.output) if x is item)

    def _add(self, item: _Built, out: list[ResponseStreamEvent]) -> None:
        self._close(out)
        self.response.output.append(item)
        self._open = item
        index = len(self.response.output) - 1
        out.append(
            self._event("response.output_item.added", output_index=index, item=self._frozen(item))
        )

    def _close(self, out: list[ResponseStreamEvent]) -> None:
        item = self._open
        if item is None:
            return
        self._open = None
        index = self._index(item)
        if isinstance(item, ResponseOutputMessage):
            for c, part in enumerate(item.content):
                where = {"item_id": item.id, "output_index": index, "content_index": c}
                if isinstance(part, ResponseOutputText):
                    out.append(
                        self._event(
                            "response.output_text.done", text=part.text, logprobs=[], **where
                        )
                    )
                else:
                    out.append(self._event("response.refusal.done", refusal=part.refusal, **where))
                out.append(
                    self._event("response.content_part.done", part=self._frozen(part), **where)
                )
        elif isinstance(item, ResponseReasoningItem):
            where = {"item_id": item.id, "output_index": index, "summary_index": 0}
            text = item.summary[0].text
            out.append(self._event("response.reasoning_summary_text.done", text=text, **where))
            out.append(
                self._event("response.reasoning_summary_part.done", part=Summary(text), **where)
            )
        else:
            out.append(
                self._event(
                    "response.function_call_arguments.done",
                    item_id=item.id,
                    output_index=index,
                    arguments=item.arguments,
                    name=item.name,
                )
            )
        item.status = "completed"
        out.append(
            self._event("response.output_item.done", output_index=index, item=self._frozen(item))
        )

    def _reasoning(self, text: str, out: list[ResponseStreamEvent]) -> None:
        item = self._open
        if not isinstance(item, ResponseReasoningItem):
            item = ResponseReasoningItem(new_id("rs"), [], status="in_progress")
            self._add(item, out)
            item.summary.append(Summary(""))
            where = {"item_id": item.id, "output_index": self._index(item), "summary_index": 0}
            out.append(
                self._event("response.reasoning_summary_part.added", part=Summary(""), **where)
            )
        item.summary[0].text += text
        where = {"item_id": item.id, "output_index": self._index(item), "summary_index": 0}
        out.append(self._event("response.reasoning_summary_text.delta", delta=text, **where))

    def _content(self, text: str, refusal: bool, out: list[ResponseStreamEvent]) -> None:
        item = self._open
        if not isinstance(item, ResponseOutputMessage):
            item = ResponseOutputMessage(new_id("msg"), [], status="in_progress")
            self._add(item, out)
        part = item.content[-1] if item.content else None
        wanted = ResponseOutputRefusal if refusal else ResponseOutputText
        where = {"item_id": item.id, "output_index": self._index(item)}
        if not isinstance(part, wanted):
            part = ResponseOutputRefusal("") if refusal else ResponseOutputText("")
            item.content.append(part)
            where["content_index"] = len(item.content) - 1
            out.append(self._event("response.content_part.added", part=self._frozen(part), **where))
        where["content_index"] = len(item.content) - 1
        if isinstance(part, ResponseOutputRefusal):
            part.refusal += text
            out.append(self._event("response.refusal.delta", delta=text, **where))
        else:
            assert isinstance(part, ResponseOutputText)
            part.text += text
            out.append(self._event("response.output_text.delta", delta=text, logprobs=[], **where))

    def _call(
        self,
        index: int,
        id: str | None,
        name: str | None,
        arguments: str,
        out: list[ResponseStreamEvent],
    ) -> None:
        call = self._calls.get(index)
        if call is None:
            call = ResponseFunctionToolCall(
                "", id or new_id("call"), name or "", new_id("fc"), "in_progress"
            )
            self._calls[index] = call
            self._add(call, out)
        if arguments:
            call.arguments += arguments
            out.append(
                self._event(
                    "response.function_call_arguments.delta",
                    item_id=call.id,
                    output_index=self._index(call),
                    delta=arguments,
                )
            )

    def feed(self, chunk: ChatCompletionChunk) -> list[ResponseStreamEvent]:
        out: list[ResponseStreamEvent] = []
        if chunk.usage is not None:
            self.response.usage = _usage(chunk.usage)
        for choice in chunk.choices:
            if choice.index != 0:
                continue
            delta = choice.delta
            if delta.reasoning_content:
                self._reasoning(delta.reasoning_content, out)
            if delta.content:
                self._content(delta.content, False, out)
            if delta.refusal:
                self._content(delta.refusal, True, out)
            for call in delta.tool_calls or ():
                fn = call.function
                name = fn.name if fn is not None else None
                self._call(call.index, call.id, name, (fn.arguments or "") if fn else "", out)
            if choice.finish_reason is not None:
                self._finish = choice.finish_reason
        return out

    def finish(self) -> list[ResponseStreamEvent]:
        out: list[ResponseStreamEvent] = []
        self._close(out)
        response = self.response
        if self._finish == "length":
            response.status = "incomplete"
            response.incomplete_details = IncompleteDetails("max_output_tokens")
        elif self._finish == "content_filter":
            response.status = "incomplete"
            response.incomplete_details = IncompleteDetails("content_filter")
        else:
            response.status = "completed"
        kind = "response.completed" if response.status == "completed" else "response.incomplete"
        out.append(self._event(kind, response=response))
        return out

    def fail(self, exc: BaseException, message: str) -> list[ResponseStreamEvent]:
        """The end of a stream that broke off: ``message`` says why (no internals)."""
        out: list[ResponseStreamEvent] = []
        self._close(out)
        self.response.status = "failed"
        self.response.error = ResponseError(_error_code(exc), message)
        out.append(self._event("response.failed", response=self.response))
        return out

    def whole(self, completion: ChatCompletion) -> Response:
        """The Response of a non-streamed answer (choice 0)."""
        self._streamed = False
        self.response.provider = completion.provider
        self.response.usage = _usage(completion.usage)
        out: list[ResponseStreamEvent] = []
        if completion.choices:
            choice = completion.choices[0]
            message = choice.message
            if message.reasoning_content:
                self._reasoning(message.reasoning_content, out)
            if message.content:
                self._content(message.content, False, out)
            if message.refusal:
                self._content(message.refusal, True, out)
            for i, call in enumerate(message.tool_calls or ()):
                self._call(i, call.id, call.function.name, call.function.arguments, out)
            self._finish = choice.finish_reason
        self.finish()
        return self.response


def new_response(model: str, fields: Mapping[str, Any]) -> Response:
    """The Response a request starts as (in progress, no output)."""
    response = Response(new_id("resp"), float(int(time.time())), model, [])
    for name in ECHOED:
        if fields.get(name) is not None:
            setattr(response, name, fields[name])
    if fields.get("tools"):
        response.tools = list(fields["tools"])
    if fields.get("text") is not None:
        response.text = dict(fields["text"])
    if fields.get("parallel_tool_calls") is not None:
        response.parallel_tool_calls = bool(fields["parallel_tool_calls"])
    if fields.get("store") is not None:
        response.store = bool(fields["store"])
    return response
