"""``/v1/chat/completions`` relayed in its own dialect: when every provider of a route speaks
OpenAI's chat wire itself (``OpenAICompatible``: OpenAI, Azure and the hosts of vendors.py,
with the chat methods it defines), the upstream's answer goes to the caller as the host
wrote it, without the client's translation into events, its fold and its records.

The request is the client's own: ``chat.completions.prepare`` checks the body and picks the
providers (an unsupported capability is the same typed 400), ``Router.request_for`` maps the
model and splits the deadline, ``OpenAICompatible.chat_request`` builds what the host is
sent, and ``Router.first`` / ``settle`` is the one fallback loop. Of the answer, each JSON
object is parsed once (orjson, in C) for what the gateway needs from it: the usage row's
tokens, an error the host put inside a 200 answer or a stream, whether the stream finished,
the text for ``log_content``. It is sent on with what the general path would give a caller
that the host may leave out (``_Tally``): ``provider``, an id, model and creation time,
tool-call ids, ``tool_calls`` as the finish of a choice that called tools, a finish for a
choice left open at [DONE], text for content given as parts, ``reasoning_content``. The usage
chunk, always asked of the host, reaches the caller only if it asked for it; a host that
reports no usage gets the fold's estimate (``estimated_usage``), as on the general path.

What the client would do differently stays on the general path (``chat.py``): a provider
that is not on the OpenAI wire or redefines its chat methods (aliases and per-provider
limits, ``targets.Pinned`` and ``Tuned``, are relayed as what they wrap), ``stop`` sequences
(the fold enforces them itself), hedged routing. Differences kept on purpose (the host's
extra fields and chunk boundaries reach the caller) are listed in tests/test_chat_relay.py,
which sends the same traffic through both paths.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, Coroutine, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from ..client.fold import estimated_usage, random_hex, tokens_for_chars
from ..errors import APIResponseValidationError, EmptyResponseError
from ..providers.base import Provider
from ..providers.openai import OpenAICompatible, chat_chunk, chunk_shape_error
from ..providers.openai_wire import content_parts
from ..routing.policy import RoutingOptions
from ..transport.base import ByteStream, HttpRequest, require_transport
from ..transport.errors import embedded_error
from ..transport.redact import credential_values
from ..transport.sse import SSEDecoder
from ..types._record import json_bytes
from ..types.chat import CompletionUsage
from ..types.request import ChatRequest
from .asgi import until_disconnect
from .shared.cache import CACHE_HEADER
from .targets import Pinned, Tuned

if TYPE_CHECKING:
    from .app import Call, Gateway
    from .store import UsageRecord

__all__ = ["DONE", "SSE_HEADERS", "on_the_wire", "relay", "relays"]

SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),  # nginx in front: do not buffer the stream
]
DONE = b"data: [DONE]\n\n"

_OWN = (
    OpenAICompatible.chat_request,
    OpenAICompatible.stream_chat,
    OpenAICompatible.complete_chat,
)
#: Delta fields that are content (the general path's ``is_content``): a fallback group
#: commits to a provider once one of them arrives, not before.
_CONTENT = ("content", "reasoning_content", "reasoning", "refusal", "tool_calls")


#: Gateway wrappers (targets.py) that change only the model (an alias's) or the time limits
#: a chat request carries, both applied by the request they build: relayed as what they wrap.
_WRAPPERS = (Pinned, Tuned)


def _unwrapped(provider: Provider) -> Provider:
    """The provider a gateway wrapper (``_WRAPPERS``) wraps, or the provider itself."""
    while type(provider) in _WRAPPERS:
        provider = provider.inner  # type: ignore[attr-defined]
    return provider


def wire_of(provider: Provider) -> OpenAICompatible | None:
    """The OpenAI-wire provider that sends this provider's chat as ``OpenAICompatible``
    does, unchanged; None when it sends it otherwise."""
    provider = _unwrapped(provider)
    if not isinstance(provider, OpenAICompatible):
        return None
    cls = type(provider)
    return provider if (cls.chat_request, cls.stream_chat, cls.complete_chat) == _OWN else None


def on_the_wire(provider: Provider) -> bool:
    return wire_of(provider) is not None


def _built(provider: Provider, request: ChatRequest, *, stream: bool) -> HttpRequest:
    """What the provider sends for this call (a wrapper's model and limits applied)."""
    assert isinstance(provider, (Pinned, Tuned, OpenAICompatible))
    return provider.chat_request(request, stream=stream)


def relays(request: ChatRequest, providers: list[Provider], routing: RoutingOptions | None) -> bool:
    """Whether this call to providers on the OpenAI chat wire (the caller checked them with
    ``on_the_wire``) can be relayed: nothing asked that the client does itself."""
    if request.stop is not None:  # the fold cuts the answer at a stop sequence itself
        return False
    return len(providers) == 1 or routing is None or routing.hedge_after is None


def usage_into(record: UsageRecord, usage: Any) -> None:
    """An OpenAI ``usage`` object's tokens into the usage row (parsed JSON: objects are
    dicts, told apart in C rather than by the ``Mapping`` ABC's Python-level check)."""
    if not isinstance(usage, dict):
        return
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    if type(prompt) is int:
        record.prompt_tokens = prompt
    if type(completion) is int:
        record.completion_tokens = completion
    total = usage.get("total_tokens")
    if type(total) is int:
        record.total_tokens = total
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    if type(cached) is int and cached:
        record.cached_tokens = cached


def _has_content(choices: Any, key: str) -> bool:
    for choice in choices or ():
        part = choice.get(key) if isinstance(choice, dict) else None
        if isinstance(part, dict) and any(part.get(name) for name in _CONTENT):
            return True
    return False


def relay(
    gateway: Gateway,
    call: Call,
    request: ChatRequest,
    providers: list[Provider],
    routing: RoutingOptions | None,
    *,
    wants_usage: bool,
    cached: str | None,
) -> Coroutine[Any, Any, None]:
    """Answer the call from the first provider that answers, as it answered. The work is
    handed back rather than awaited here (as ``Router.first`` does): a frame less for every
    resumption of the request."""
    if request.stream:
        return _stream(gateway, call, request, providers, routing, wants_usage)
    return _whole(gateway, call, request, providers, routing, cached)


async def _whole(
    gateway: Gateway,
    call: Call,
    request: ChatRequest,
    providers: list[Provider],
    routing: RoutingOptions | None,
    cached: str | None,
) -> None:
    router = gateway.client.router
    multi = len(providers) > 1

    async def attempt(provider: Provider, deadline: float | None) -> dict[str, Any]:
        wire = _unwrapped(provider)  # on the wire: relays() was asked
        assert isinstance(wire, OpenAICompatible)
        req = router.request_for(provider, request, deadline)
        http = _built(provider, req, stream=False)
        async with router.slot(provider):
            response = await require_transport(http.options.transport).request(http)
        payload = wire.chat_answer(response.json(), http)
        if multi and not _has_content(payload.get("choices"), "message"):
            raise EmptyResponseError(
                "the provider answered with no content", provider=provider.name
            )
        return payload

    provider, payload = await until_disconnect(
        call,
        router.first(providers, attempt, total=request.options.timeout.total, options=routing),
    )
    name = provider.name
    await router.settle(name)
    tally = _whole_answer(payload, provider.resolve_model(request.model), name)
    record = call.record
    record.provider = name
    if tally is not None:  # no usage reported: the general path's estimate
        payload["usage"] = _as_json(tally.estimate(request))
    usage_into(record, payload["usage"])
    if gateway.config.log_content:
        record.response = _first_text(payload.get("choices"), "message")
    payload["provider"] = name
    data = orjson.dumps(payload)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(data)).encode()),
    ]
    if cached is not None and gateway.cache is not None:
        headers.append((CACHE_HEADER, b"miss"))
        await gateway.cache.put(cached, name.encode() + b"\n" + data)
    await call.send({"type": "http.response.start", "status": 200, "headers": headers})
    await call.send({"type": "http.response.body", "body": data})


def _first_text(choices: Any, key: str) -> str | None:
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        part = choices[0].get(key)
        text = part.get("content") if isinstance(part, dict) else None
        return text if isinstance(text, str) else None
    return None


class _Opened:
    """A stream that started: the chunks read before it was chosen, then the rest."""

    __slots__ = ("chunks", "held", "stack", "tally")

    def __init__(
        self,
        stack: contextlib.AsyncExitStack,
        held: list[dict[str, Any]],
        chunks: AsyncGenerator[dict[str, Any], None],
        tally: _Tally,
    ) -> None:
        self.stack, self.held, self.chunks, self.tally = stack, held, chunks, tally


#: A choice's state in a stream: open, open with tool calls, finished.
_OPEN, _TOOLED, _DONE = 0, 1, 2


class _Tally:
    """What a stream's chunks said so far, and the few things the general path's fold adds
    that a caller relies on: an id, model and creation time on every chunk (the first
    chunk's, else made up), an id on every tool call, ``tool_calls`` rather than ``stop``
    as the finish of a choice that called tools, and a finish for every choice the host
    left open when it ended with [DONE]."""

    __slots__ = ("calls", "chars", "choices", "finished", "head", "reported")

    def __init__(self, model: str) -> None:
        self.head: dict[str, Any] = {"id": "", "model": model, "created": 0}
        self.choices: dict[int, int] = {}
        self.calls: set[tuple[int, Any]] = set()
        self.finished = False  # any choice finished: the stream may end without [DONE]
        self.reported = False  # the host sent usage
        # Characters answered, for the fold's estimate when the host reports no usage: a
        # choice's text (its index), its reasoning, each tool call's name and arguments.
        self.chars: dict[Any, int] = {}

    def see(self, chunk: dict[str, Any]) -> None:
        if not (chunk.get("id") and chunk.get("model") and chunk.get("created")):
            self.fill(chunk)
        elif not self.head["id"]:
            self.head = {"id": chunk["id"], "model": chunk["model"], "created": chunk["created"]}
        states = self.choices
        for choice in chunk.get("choices") or ():
            index = choice.get("index") or 0
            state = states.get(index, _OPEN)
            delta = choice.get("delta")
            if delta:
                content = delta.get("content")
                if (content is not None and type(content) is not str) or "reasoning" in delta:
                    _plain(delta)
                    content = delta.get("content")
                if content:  # counted here: the one thing nearly every chunk holds
                    chars = self.chars
                    chars[index] = chars.get(index, 0) + len(content)
                if "reasoning_content" in delta or "tool_calls" in delta:
                    self.count_more(index, delta)
                calls = delta.get("tool_calls")
                if calls:
                    state = _TOOLED if state == _OPEN else state
                    self.name_calls(index, calls)
            reason = choice.get("finish_reason")
            if reason:
                self.finished = True
                if reason == "stop" and state == _TOOLED:
                    choice["finish_reason"] = "tool_calls"
                state = _DONE
            states[index] = state

    def fill(self, chunk: dict[str, Any]) -> None:
        head = self.head
        for key in ("id", "model", "created"):
            if not head[key]:
                head[key] = chunk.get(key) or (
                    "chatcmpl-" + random_hex() if key == "id" else int(time.time())
                )
            if not chunk.get(key):
                chunk[key] = head[key]

    def count(self, index: int, message: Mapping[str, Any]) -> None:
        """Count a whole message's characters into ``chars`` (a delta's: ``see``)."""
        content = message.get("content")
        if content and type(content) is str:
            self.chars[index] = self.chars.get(index, 0) + len(content)
        self.count_more(index, message)

    def count_more(self, index: int, message: Mapping[str, Any]) -> None:
        """Count a message's reasoning and tool calls into ``chars``."""
        chars = self.chars
        reasoning = message.get("reasoning_content")
        if reasoning and type(reasoning) is str:
            chars[index, "reasoning"] = chars.get((index, "reasoning"), 0) + len(reasoning)
        for n, call in enumerate(message.get("tool_calls") or ()):
            key = (index, ("call", call.get("index", n)))
            function = call.get("function") or {}
            name, arguments = function.get("name"), function.get("arguments")
            size = 0 if key in chars or not isinstance(name, str) else len(name)  # given once
            if arguments:
                size += len(arguments if isinstance(arguments, str) else orjson.dumps(arguments))
            chars[key] = chars.get(key, 0) + size

    def estimate(self, request: ChatRequest) -> CompletionUsage:
        """The usage the general path's fold estimates for what was answered."""
        completion = sum(map(tokens_for_chars, self.chars.values()))
        return estimated_usage(request, completion)

    def name_calls(self, index: int, calls: Any) -> None:
        for call in calls:
            key = (index, call.get("index"))
            if key not in self.calls:
                self.calls.add(key)
                if not call.get("id"):
                    call["id"] = "call_" + random_hex()

    def closing(self) -> list[dict[str, Any]]:
        """Chunks that finish the choices still open when the host ended the stream."""
        head = self.head
        return [
            {
                **head,
                "object": "chat.completion.chunk",
                "choices": [
                    {
                        "index": index,
                        "delta": {},
                        "finish_reason": "tool_calls" if state == _TOOLED else "stop",
                    }
                ],
            }
            for index, state in self.choices.items()
            if state != _DONE
        ]


def _plain(message: dict[str, Any]) -> None:
    """A message or delta in the shape the general path gives: content given as parts (a
    few hosts; Mistral's reasoning models with thinking parts) as its text, the thinking as
    ``reasoning_content``, and a host's ``reasoning`` also as ``reasoning_content``."""
    content = message.get("content")
    if type(content) is list:
        content, thinking = content_parts(content)
        message["content"] = content
        if thinking and not message.get("reasoning_content"):
            message["reasoning_content"] = thinking
    reasoning = message.get("reasoning")
    if reasoning and isinstance(reasoning, str) and not message.get("reasoning_content"):
        message["reasoning_content"] = reasoning


async def _chunks(
    upstream: ByteStream, provider: OpenAICompatible, secrets: tuple[str, ...], tally: _Tally
) -> AsyncGenerator[dict[str, Any], None]:
    """The stream's chunk objects, checked as ``stream_chat`` checks them: JSON objects, an
    error inside one raised, and an end without [DONE] or a finish_reason an error."""
    name = provider.name
    decoder = SSEDecoder()  # bounds an event's size
    async for piece in upstream.iter_bytes():
        for event in decoder.feed(piece):
            data = event.data
            if data == "[DONE]":
                for chunk in tally.closing():
                    yield chunk
                return
            yield _checked(data, name, secrets, tally)
    for event in decoder.close():
        if event.data == "[DONE]":
            for chunk in tally.closing():
                yield chunk
            return
        yield _checked(event.data, name, secrets, tally)
    if not tally.finished:
        raise provider.unfinished_stream(decoder, secrets)


def _checked(data: str, provider: str, secrets: tuple[str, ...], tally: _Tally) -> dict[str, Any]:
    chunk = chat_chunk(data, provider)
    if "error" in chunk:
        error = embedded_error(chunk, provider, secrets)
        if error is not None:
            raise error
    try:
        tally.see(chunk)
    except (AttributeError, TypeError, ValueError) as exc:
        raise chunk_shape_error(exc, data, provider) from exc
    return chunk


def _as_json(usage: CompletionUsage) -> dict[str, Any]:
    """A usage record as the general path sends it."""
    return orjson.loads(json_bytes(usage))  # type: ignore[no-any-return]


def _whole_answer(payload: dict[str, Any], model: str, provider: str) -> _Tally | None:
    """A whole answer given what the general path would add (``_Tally``'s list). When the
    host reported no usage, the tally of its characters (for the estimate); else None."""
    try:
        tally = None if payload.get("usage") else _Tally(model)
        if not (payload.get("id") and payload.get("model") and payload.get("created")):
            (tally or _Tally(model)).fill(payload)
        for choice in payload.get("choices") or ():
            message = choice.get("message") or {}
            _plain(message)
            if tally is not None:
                tally.count(choice.get("index") or 0, message)
            calls = message.get("tool_calls")
            if calls:
                for call in calls:  # each a call of its own (a stream's: _Tally.name_calls)
                    if not call.get("id"):
                        call["id"] = "call_" + random_hex()
            reason = choice.get("finish_reason")
            if not reason or (reason == "stop" and calls):
                choice["finish_reason"] = "tool_calls" if calls else "stop"
    except (AttributeError, TypeError, ValueError) as exc:
        raise APIResponseValidationError(
            f"a chat.completion of an unexpected shape: {exc}", provider=provider
        ) from exc
    return tally


async def _stream(
    gateway: Gateway,
    call: Call,
    request: ChatRequest,
    providers: list[Provider],
    routing: RoutingOptions | None,
    wants_usage: bool,
) -> None:
    router = gateway.client.router
    multi = len(providers) > 1

    async def attempt(provider: Provider, deadline: float | None) -> _Opened:
        wire = _unwrapped(provider)  # on the wire: relays() was asked
        assert isinstance(wire, OpenAICompatible)
        req = router.request_for(provider, request, deadline)
        http = _built(provider, req, stream=True)
        stack = contextlib.AsyncExitStack()
        try:
            await stack.enter_async_context(router.slot(provider))
            transport = require_transport(http.options.transport)
            upstream = await stack.enter_async_context(transport.stream(http))
            tally = _Tally(provider.resolve_model(request.model))
            chunks = _chunks(upstream, wire, credential_values(http.headers), tally)
            stack.push_async_callback(chunks.aclose)
            held: list[dict[str, Any]] = []
            async for chunk in chunks:  # until the first content, as the general path reads
                held.append(chunk)
                if _has_content(chunk.get("choices"), "delta"):
                    break
            else:
                if multi:
                    raise EmptyResponseError(
                        "the provider answered with no content", provider=provider.name
                    )
            return _Opened(stack, held, chunks, tally)
        except BaseException:
            await stack.aclose()
            raise

    async def answer() -> None:
        provider, opened = await router.first(
            providers, attempt, total=request.options.timeout.total, options=routing
        )
        await _send(gateway, call, request, provider.name, opened, wants_usage)

    await until_disconnect(call, answer())


async def _send(
    gateway: Gateway,
    call: Call,
    request: ChatRequest,
    name: str,
    opened: _Opened,
    wants_usage: bool,
) -> None:
    """Send the stream on; then close it and give the provider its verdict (before the last
    send: nothing may be awaited after it, see chat.py)."""
    send = call.send
    record = call.record
    record.provider = name
    keep_text = gateway.config.log_content
    text: list[str] = []
    dumps = orjson.dumps
    tally = opened.tally

    def framed(chunk: dict[str, Any]) -> bytes | None:
        usage = chunk.get("usage")
        if usage is not None:
            usage_into(record, usage)
            tally.reported = tally.reported or bool(usage)
            if not wants_usage:
                if not chunk.get("choices"):
                    return None
                chunk["usage"] = None
        if keep_text:
            text.append(_first_text(chunk.get("choices"), "delta") or "")
        chunk["provider"] = name
        return b"data: " + dumps(chunk) + b"\n\n"

    tail = DONE
    failure: BaseException | None = None
    try:
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        call.responded = True
        record.ttft_ms = call.elapsed_ms()
        try:
            for chunk in opened.held:
                body = framed(chunk)
                if body is not None:
                    await send({"type": "http.response.body", "body": body, "more_body": True})
            async for chunk in opened.chunks:
                body = framed(chunk)
                if body is not None:
                    await send({"type": "http.response.body", "body": body, "more_body": True})
            if not tally.reported:  # none reported: the general path's estimate
                estimate = {
                    "object": "chat.completion.chunk",
                    "choices": [],
                    "usage": _as_json(tally.estimate(request)),
                }
                tally.fill(estimate)  # the stream's id, model and time
                body = framed(estimate)
                if body is not None:
                    await send({"type": "http.response.body", "body": body, "more_body": True})
        except asyncio.CancelledError:
            await send({"type": "http.response.body", "body": call.stopped(), "more_body": False})
            raise
        except Exception as exc:
            _, error = call.failed(exc)
            failure = exc
            tail = b"data: " + dumps(error) + b"\n\n"  # the last event: no [DONE] after it
    except BaseException as exc:
        await _close(gateway, name, opened, exc)
        raise
    await _close(gateway, name, opened, failure)
    if keep_text:
        record.response = "".join(text)
    await send({"type": "http.response.body", "body": tail, "more_body": False})


async def _close(
    gateway: Gateway, name: str, opened: _Opened, failure: BaseException | None
) -> None:
    try:
        await opened.stack.aclose()
    finally:
        await gateway.client.router.settle(name, failure)
