"""The one fold from provider events to OpenAI-shaped responses.

Streaming and non-streaming share it: ``ResponseFold.apply`` takes one event, updates the
per-choice state and returns the chunk to send (or None). A non-streaming call applies every
event and then calls ``completion()``. So stop sequences, finish reasons, tool-call ids and
usage behave the same in both styles.

This is the per-chunk hot path: no validation of data we build, no copies, one small object
graph per chunk.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

from ..errors import APIResponseValidationError
from ..types.chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionMessage,
    ChatCompletionMessageToolCall,
    Choice,
    ChoiceDelta,
    ChoiceDeltaToolCall,
    ChoiceDeltaToolCallFunction,
    ChunkChoice,
    CompletionTokensDetails,
    CompletionUsage,
    FinishReason,
    Function,
    PromptTokensDetails,
)
from ..types.events import (
    ChatEvent,
    Finish,
    ReasoningDelta,
    RefusalDelta,
    ResponseInfo,
    TextDelta,
    ToolCallDelta,
    Usage,
    WholeChoice,
)
from ..types.request import ChatRequest, content_text

__all__ = [
    "ResponseFold",
    "StopFilter",
    "estimate_tokens",
    "estimated_usage",
    "random_hex",
    "tokens_for_chars",
]


class StopFilter:
    """Cuts text at the first stop sequence, even one split across pieces.

    Text that could be the start of a stop sequence is held back until the next piece shows
    whether it is one, so nothing after a stop sequence ever reaches the caller.
    """

    __slots__ = ("_pending", "_stops")

    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = [s for s in stops if s]
        self._pending = ""

    def feed(self, text: str) -> tuple[str, bool]:
        """Return (text safe to emit, whether a stop sequence was hit)."""
        buf = self._pending + text
        # The stop sequence that is complete first (smallest end) wins, as it would if the text
        # came one character at a time: the answer must not depend on how it was chunked.
        cut = end = -1
        for stop in self._stops:
            at = buf.find(stop)
            if at >= 0 and (end < 0 or (at + len(stop), at) < (end, cut)):
                cut, end = at, at + len(stop)
        if cut >= 0:
            self._pending = ""
            return buf[:cut], True
        hold = 0
        for stop in self._stops:
            for k in range(min(len(stop) - 1, len(buf)), hold, -1):
                if buf.endswith(stop[:k]):
                    hold = k
                    break
        if hold:
            self._pending = buf[-hold:]
            return buf[:-hold], False
        self._pending = ""
        return buf, False

    def flush(self) -> str:
        """The held-back text, once the stream ends without completing a stop sequence."""
        pending, self._pending = self._pending, ""
        return pending


def random_hex() -> str:
    """24 random hex digits for response and tool-call ids. Not uuid4: it reads os.urandom,
    which cost ~80 us a call on the benchmark machine (a quarter of a request's CPU); these
    ids only need to be unique, not unguessable."""
    return f"{random.getrandbits(96):024x}"


def estimate_tokens(text: str) -> int:
    """A rough token count (about four characters a token) for providers that report none."""
    return tokens_for_chars(len(text))


def tokens_for_chars(count: int) -> int:
    """``estimate_tokens`` of a text of ``count`` characters."""
    return (count + 3) // 4


def estimated_usage(request: ChatRequest, completion_tokens: int) -> CompletionUsage:
    """The usage of an answer whose provider reported none: the request's messages counted
    here, ``completion_tokens`` estimated from the answer; marked ``estimated=True``."""
    prompt = sum(estimate_tokens(text) + 4 for text in _message_texts(request))
    return CompletionUsage(
        prompt_tokens=prompt,
        completion_tokens=completion_tokens,
        total_tokens=prompt + completion_tokens,
        estimated=True,
    )


class _ToolCall:
    __slots__ = ("arguments", "id", "name")

    def __init__(self, id: str, name: str) -> None:
        self.id = id
        self.name = name
        self.arguments: list[str] = []


class _ChoiceState:
    __slots__ = ("finish", "reasoning", "refusal", "started", "stop", "text", "tools")

    def __init__(self, stops: Sequence[str] | None) -> None:
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.refusal: list[str] = []
        self.tools: dict[int, _ToolCall] = {}
        self.finish: FinishReason | None = None
        self.started = False
        self.stop = StopFilter(stops) if stops else None

    def default_finish(self) -> Literal["tool_calls", "stop"]:
        return "tool_calls" if self.tools else "stop"


class ResponseFold:
    """Folds one response's events; knows the response id, model and provider."""

    # Defaults on the class: a fold is made per call, and most of these never change.
    # Set by the upstream's ResponseInfo, else made up when the first piece goes out
    # (``_stamp``): most upstreams send their own, so no random id is drawn for them.
    id = ""
    created = 0
    system_fingerprint: str | None = None
    usage: Usage | None = None
    _emitted = False
    _finished = 0
    _cut = False
    #: A stop sequence ended every expected choice: reading on would be wasted work. (When
    #: the provider itself finishes, its stream is read to the end for usage.) An
    #: attribute, not a property: it is read after every event.
    done = False

    def __init__(
        self, request: ChatRequest, provider: str | None = None, model: str | None = None
    ) -> None:
        self.model = request.model if model is None else model
        self.provider = provider
        self._request = request
        self._stops = request.stop
        self._choices: dict[int, _ChoiceState] = {}
        # A non-streamed call only wants the final state: no chunk objects are built for it.
        self._streaming = request.stream

    # -- state -------------------------------------------------------------------------------
    def _choice(self, index: int) -> _ChoiceState:
        state = self._choices.get(index)
        if state is None:
            state = self._choices[index] = _ChoiceState(self._stops)
        return state

    def _emit(
        self,
        index: int,
        state: _ChoiceState,
        finish: FinishReason | None = None,
        content: str | None = None,
        reasoning: str | None = None,
        refusal: str | None = None,
        tool_call: ChoiceDeltaToolCall | None = None,
    ) -> ChatCompletionChunk | None:
        """The chunk a stream sends for this change (None for a non-streamed call, which
        only wants the final state: no delta or chunk objects are built for it)."""
        if not self._streaming:
            self._emitted = True
            return None  # stamped by close()
        if not self._emitted:
            self._emitted = True
            self._stamp()
        delta = ChoiceDelta(
            content=content,
            reasoning_content=reasoning,
            refusal=refusal,
            tool_calls=None if tool_call is None else [tool_call],
        )
        if not state.started and (content is not None or reasoning or refusal or tool_call):
            state.started = True
            delta.role = "assistant"
        return ChatCompletionChunk(
            id=self.id,
            choices=[ChunkChoice(index=index, delta=delta, finish_reason=finish)],
            created=self.created,
            model=self.model,
            system_fingerprint=self.system_fingerprint,
            provider=self.provider,
        )

    def _stamp(self) -> None:
        if not self.id:
            self.id = "chatcmpl-" + random_hex()
        if not self.created:
            self.created = int(time.time())

    def _finish(self, state: _ChoiceState, reason: FinishReason) -> None:
        if state.finish is None:
            state.finish = reason
            self._finished += 1
            if self._cut:
                self.done = self._finished >= (self._request.n or 1)

    # -- one event ---------------------------------------------------------------------------
    def apply(self, event: ChatEvent) -> ChatCompletionChunk | None:
        """Update the state with one event; return the chunk a stream should send, if any."""
        # Dispatch on the exact type (one dict lookup): this runs for every event. Plain text,
        # the most common event of all, goes straight to its handler.
        kind = type(event)
        if kind is str:
            return self._text(0, event)  # type: ignore[arg-type]
        handler = _HANDLERS.get(kind)
        if handler is None:
            handler = _handler_for(event, self.provider)
        return handler(self, event)

    def feed(self, events: Iterable[ChatEvent]) -> None:
        """Apply a non-streamed answer's events, until a stop sequence ends every choice.
        (The same dispatch as ``apply``, without a call of it per event.)"""
        for event in events:
            handler = _HANDLERS.get(type(event)) or _handler_for(event, self.provider)
            handler(self, event)
            if self.done:
                break

    def _on_text(self, event: TextDelta) -> ChatCompletionChunk | None:
        return self._text(event.index, event.text)

    def _on_reasoning(self, event: ReasoningDelta) -> ChatCompletionChunk | None:
        return self._reasoning(event.index, event.text)

    def _reasoning(self, index: int, text: str) -> ChatCompletionChunk | None:
        state = self._choice(index)
        if state.finish is not None or not text:
            return None
        state.reasoning.append(text)
        return self._emit(index, state, reasoning=text)

    def _on_refusal(self, event: RefusalDelta) -> ChatCompletionChunk | None:
        return self._refusal(event.index, event.text)

    def _refusal(self, index: int, text: str) -> ChatCompletionChunk | None:
        state = self._choice(index)
        if state.finish is not None:
            return None
        state.refusal.append(text)
        return self._emit(index, state, refusal=text)

    def _on_whole(self, event: WholeChoice) -> None:
        """A whole choice (a non-streamed answer) is exactly its deltas, in the order of
        ``WholeChoice.deltas``, each through its own handler (no delta objects are made)."""
        if self._streaming:
            raise TypeError("a provider's stream_chat yielded a WholeChoice; yield deltas")
        index = event.index
        if event.reasoning:
            self._reasoning(index, event.reasoning)
        if event.text:
            self._text(index, event.text)
        if event.refusal:
            self._refusal(index, event.refusal)
        for call in event.tool_calls or ():
            self._tool(call)
        if event.finish is not None:
            self._end(index, event.finish)

    def _on_usage(self, event: Usage) -> None:
        self.usage = event

    def _on_info(self, event: ResponseInfo) -> None:
        if not self._emitted:
            self.id = event.id or self.id
            self.created = event.created or self.created
            self.model = event.model or self.model
            self.system_fingerprint = event.system_fingerprint or self.system_fingerprint

    def _text(self, index: int, text: str) -> ChatCompletionChunk | None:
        state = self._choice(index)
        if state.finish is not None or not text:
            return None
        hit = False
        if state.stop is not None:
            text, hit = state.stop.feed(text)
        if text:
            state.text.append(text)
        if hit:
            self._cut = True
            self._finish(state, "stop")
            return self._emit(index, state, "stop", content=text)
        if not text:
            return None
        return self._emit(index, state, content=text)

    def _tool(self, event: ToolCallDelta) -> ChatCompletionChunk | None:
        state = self._choice(event.index)
        if state.finish is not None:
            return None
        call = state.tools.get(event.call_index)
        if call is None:
            call_id = event.id or "call_" + random_hex()
            call = state.tools[event.call_index] = _ToolCall(call_id, event.name or "")
            if event.arguments:
                call.arguments.append(event.arguments)
            if not self._streaming:
                self._emitted = True
                return None
            tool_delta = ChoiceDeltaToolCall(
                index=event.call_index,
                id=call_id,
                function=ChoiceDeltaToolCallFunction(name=call.name, arguments=event.arguments),
                type="function",
            )
        else:
            # A name that arrives after the call started is streamed too, once; otherwise a
            # streaming caller would never learn which function to call.
            new_name = event.name if event.name and not call.name else None
            if new_name:
                call.name = new_name
            elif not event.arguments:
                return None
            if event.arguments:
                call.arguments.append(event.arguments)
            if not self._streaming:
                self._emitted = True
                return None
            tool_delta = ChoiceDeltaToolCall(
                index=event.call_index,
                function=ChoiceDeltaToolCallFunction(name=new_name, arguments=event.arguments),
            )
        return self._emit(event.index, state, tool_call=tool_delta)

    def _on_finish(self, event: Finish) -> ChatCompletionChunk | None:
        return self._end(event.index, event.reason)

    def _end(self, index: int, reason: FinishReason) -> ChatCompletionChunk | None:
        state = self._choice(index)
        if state.finish is not None:
            return None
        tail = state.stop.flush() if state.stop is not None else ""
        if tail:
            state.text.append(tail)
        if reason == "stop" and state.tools:
            reason = "tool_calls"
        self._finish(state, reason)
        return self._emit(index, state, reason, content=tail or None)

    # -- the end -----------------------------------------------------------------------------
    def close(self) -> list[ChatCompletionChunk]:
        """Chunks that end the stream: a finish for every open choice, then usage if asked."""
        self._stamp()
        states = self._choices
        if not states:
            self._choice(0)  # an empty answer is still one choice
        out: list[ChatCompletionChunk] = []
        for index in sorted(states) if len(states) > 1 else tuple(states):
            if states[index].finish is None:
                default = self._choice(index).default_finish()
                chunk = self._end(index, default)
                if chunk is not None:
                    out.append(chunk)
        if self._streaming and self._request.include_usage:
            out.append(
                ChatCompletionChunk(
                    id=self.id,
                    choices=[],
                    created=self.created,
                    model=self.model,
                    system_fingerprint=self.system_fingerprint,
                    usage=self.completion_usage(),
                    provider=self.provider,
                )
            )
        return out

    def completion_usage(self) -> CompletionUsage:
        """The provider's usage, else an estimate marked ``estimated=True``."""
        usage = self.usage
        if usage is not None:
            return _reported_usage(usage)
        completion = 0
        for index in list(self._choices):
            state = self._choice(index)
            completion += estimate_tokens("".join(state.text)) + estimate_tokens(
                "".join(state.reasoning)
            )
            for call in state.tools.values():
                completion += estimate_tokens(call.name + "".join(call.arguments))
        return estimated_usage(self._request, completion)

    def completion(self) -> ChatCompletion:
        """The whole response, after every event was applied and ``close()`` was called."""
        states = self._choices
        choices = []
        for index in sorted(states) if len(states) > 1 else states:
            state = states[index]
            text = "".join(state.text)
            tool_calls = None
            if state.tools:
                tool_calls = [
                    ChatCompletionMessageToolCall(
                        id=call.id,
                        function=Function(name=call.name, arguments="".join(call.arguments)),
                    )
                    for _, call in sorted(state.tools.items())
                ]
            message = ChatCompletionMessage(
                content=None if tool_calls and not text else text,
                refusal="".join(state.refusal) or None,
                tool_calls=tool_calls,
                reasoning_content="".join(state.reasoning) or None,
            )
            choices.append(
                Choice(
                    index=index,
                    message=message,
                    finish_reason=state.finish or state.default_finish(),
                )
            )
        return ChatCompletion(
            id=self.id,
            choices=choices,
            created=self.created,
            model=self.model,
            usage=self.completion_usage(),
            system_fingerprint=self.system_fingerprint,
            provider=self.provider,
        )


def _reported_usage(usage: Usage) -> CompletionUsage:
    prompt, completion = usage.prompt_tokens, usage.completion_tokens
    cached, reasoning, total = usage.cached_tokens, usage.reasoning_tokens, usage.total_tokens
    return CompletionUsage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        # The host's own total when it reports one: it can count what neither part shows.
        total_tokens=prompt + completion if total is None else total,
        prompt_tokens_details=None if cached is None else PromptTokensDetails(cached_tokens=cached),
        completion_tokens_details=(
            None if reasoning is None else CompletionTokensDetails(reasoning_tokens=reasoning)
        ),
    )


_Handler = Callable[[ResponseFold, Any], "ChatCompletionChunk | None"]
_HANDLERS: dict[type, _Handler] = {
    str: lambda fold, text: fold._text(0, text),  # a str subclass; str itself is inlined
    TextDelta: ResponseFold._on_text,
    ToolCallDelta: ResponseFold._tool,
    ReasoningDelta: ResponseFold._on_reasoning,
    RefusalDelta: ResponseFold._on_refusal,
    Finish: ResponseFold._on_finish,
    Usage: ResponseFold._on_usage,
    ResponseInfo: ResponseFold._on_info,
    WholeChoice: ResponseFold._on_whole,
}


def _handler_for(event: object, provider: str | None) -> _Handler:
    """The handler of a subclass of an event type (a ``str`` subclass, say). Anything else is
    provider output the fold cannot read: a polymux error, never a bare TypeError."""
    for kind, handler in _HANDLERS.items():
        if isinstance(event, kind):
            return handler
    raise APIResponseValidationError(
        f"a provider yielded {type(event).__name__}; yield str or an event from "
        "polymux.types.events",
        provider=provider,
    )


def _message_texts(request: ChatRequest) -> list[str]:
    return [content_text(message.get("content")) for message in request.messages]
