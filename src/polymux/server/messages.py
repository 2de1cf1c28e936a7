"""``POST /v1/messages`` and ``/v1/messages/count_tokens``: Anthropic's Messages API in front
of every provider, for Claude Code and the ``anthropic`` SDKs.

- A model whose providers are all Anthropic: the body goes upstream untranslated (only the
  model name is set to the routed one), with the caller's ``anthropic-version`` and
  ``anthropic-beta`` headers, and the answer comes back byte for byte, so cache_control,
  citations, signed thinking and server tools all work. Upstream error bodies pass through.
- Any other model: the body is translated to a chat completion (dialects/anthropic.py), sent
  through the gateway's client like ``/v1/chat/completions``, and the answer translated back
  to a Message or the Messages stream (message_start, content blocks with text, thinking and
  tool-input deltas, message_delta with stop_reason and usage, message_stop, ping).

Errors before the answer starts are Anthropic-shaped JSON (the gateway's error hook,
``error_shape``); after it, one ``error`` event ends the stream.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from ..client.fold import estimate_tokens
from ..client.responses import require_web_search
from ..client.stream import AsyncChatStream
from ..dialects.anthropic import (
    MESSAGES_FIELDS,
    MessageEvents,
    chat_body,
    error_body,
    message_from_completion,
)
from ..errors import InvalidRequestError
from ..providers.anthropic import Anthropic
from ..providers.base import Provider
from ..providers.openai_shape import content_text
from ..transport.base import HttpRequest
from ..types.chat import ChatCompletion, ChatCompletionChunk
from ..types.request import WEB_SEARCH
from .asgi import send_json, until_disconnect
from .chat import SSE_HEADERS
from .chat import _create as create_chat
from .chat import _usage as record_usage
from .limits import check_chat, passed_through
from .passthrough import relay
from .targets import Pinned, Route

if TYPE_CHECKING:
    from .app import Call, Gateway

__all__ = ["error_shape", "handle", "handle_count_tokens"]

#: The fields taken by name. Not service_tier: it changes what a call costs, so, as for
#: chat, only the operator's pass_through lets it by.
_NAMED = MESSAGES_FIELDS - {"service_tier"}
#: Request headers passed to an Anthropic upstream (never the caller's key).
_FORWARDED = (b"anthropic-version", b"anthropic-beta")


def error_shape(status: int, body: dict[str, Any]) -> dict[str, Any]:
    """The gateway's OpenAI-shaped error body -> Anthropic's."""
    return error_body(status, str(body["error"]["message"]))


def _sse(events: list[dict[str, Any]]) -> bytes:
    dumps = orjson.dumps
    return b"".join(
        b"event: " + e["type"].encode() + b"\ndata: " + dumps(e) + b"\n\n" for e in events
    )


def _anthropic(route: Route) -> list[tuple[Provider, Anthropic]] | None:
    """(routed provider, its Anthropic provider) for each, when every one speaks Anthropic."""
    out = []
    for provider in route.providers:
        inner = provider.inner if isinstance(provider, Pinned) else provider
        if not isinstance(inner, Anthropic) or not inner.serves_native_messages:
            return None
        out.append((provider, inner))
    return out


async def _read(gateway: Gateway, call: Call) -> tuple[dict[str, Any], Route, dict[str, Any]]:
    """The body, its route, and the fields beyond the Messages API's that the operator lets
    through ([server] pass_through; any other is refused, as for every endpoint)."""
    body = await gateway.read_json(call)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequestError("model is required (a string)")
    extra = passed_through(body, _NAMED, gateway.pass_through)
    call.use_model(model)
    call.record.stream = body.get("stream") is True
    return body, gateway.models.route(model), extra


# -- passthrough to Anthropic ------------------------------------------------------------------
def _native_usage(call: Call, usage: Any) -> None:
    if not isinstance(usage, dict):
        return
    record = call.record
    if usage.get("input_tokens") is not None:
        record.prompt_tokens = sum(
            int(usage.get(k) or 0)
            for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
        )
    if usage.get("cache_read_input_tokens"):
        record.cached_tokens = int(usage["cache_read_input_tokens"])
    if usage.get("output_tokens") is not None:
        record.completion_tokens = int(usage["output_tokens"])
    record.total_tokens = (record.prompt_tokens or 0) + (record.completion_tokens or 0)


async def _passthrough(
    gateway: Gateway,
    call: Call,
    body: dict[str, Any],
    route: Route,
    targets: list[tuple[Provider, Anthropic]],
    path: str,
) -> None:
    forwarded = {
        k.decode(): v.decode("latin-1") for k, v in call.scope["headers"] if k in _FORWARDED
    }
    natives = dict(targets)
    options = gateway.client.options

    def request(provider: Provider) -> HttpRequest:
        sent = {**body, "model": provider.resolve_model(route.model)}
        return natives[provider].native_request(path, sent, options, forwarded)

    async def watch(payload: Any) -> None:
        if isinstance(payload, dict):  # a Message, message_start or message_delta
            message = payload.get("message") or payload
            _native_usage(call, message.get("usage") if isinstance(message, dict) else None)

    await relay(
        gateway,
        call,
        list(natives),
        request,
        stream=body.get("stream") is True,
        watch=watch,
        broken=lambda exc: _error_event(call, exc),
    )


def _error_event(call: Call, exc: BaseException) -> bytes:
    return _sse([error_shape(*call.failed(exc))])


# -- translated, in front of any other provider ------------------------------------------------
async def handle(gateway: Gateway, call: Call) -> None:
    body, route, extra = await _read(gateway, call)
    targets = _anthropic(route)
    if targets is not None:  # allowed extras are in the body, sent as it came
        await _passthrough(gateway, call, body, route, targets, "messages")
        return
    chat = {**chat_body(body), **extra}  # allowed extras: the chat path's extra_body
    check_chat(chat, gateway.limits)
    search = chat.pop(WEB_SEARCH, None)
    if search is not None:  # Anthropic's web_search server tool, for another upstream
        require_web_search(route.providers)
    stream = chat.pop("stream")
    call.record.stream = stream
    if gateway.config.log_content:
        call.record.request = orjson.dumps(chat["messages"]).decode()
    if search is None:
        result = create_chat(gateway, chat, stream)
    else:
        # The gateway's own field for the upstream's search, not a caller's pass-through one.
        result = gateway.client.chat.completions.create(
            model=route.model,
            stream=stream,
            provider=route.providers,
            extra_body={**extra, WEB_SEARCH: search},
            stream_options={"include_usage": True} if stream else None,
            **{k: v for k, v in chat.items() if k != "model" and k not in extra},
        )
    if stream:
        await until_disconnect(call, _stream(gateway, call, result))
        return
    completion: ChatCompletion = await until_disconnect(call, result)
    call.record.provider = completion.provider
    record_usage(call, completion.usage)
    message = message_from_completion(completion)
    if gateway.config.log_content:
        call.record.response = completion.choices[0].message.content if completion.choices else None
    await send_json(call.send, 200, message)


async def _stream(gateway: Gateway, call: Call, stream: AsyncChatStream) -> None:
    send = call.send
    events = MessageEvents()
    keep_text = gateway.config.log_content
    text: list[str] = []
    async with stream:
        first: ChatCompletionChunk = await stream.__anext__()  # errors here: a JSON answer
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        call.responded = True
        call.record.ttft_ms = call.elapsed_ms()
        call.record.provider = first.provider
        out = events.start(first)
        chunk: ChatCompletionChunk | None = first
        try:
            while chunk is not None:
                if chunk.usage is not None:
                    record_usage(call, chunk.usage)
                if keep_text and chunk.choices and chunk.choices[0].delta.content:
                    text.append(chunk.choices[0].delta.content)
                out += events.feed(chunk)
                if out:
                    await send({"type": "http.response.body", "body": _sse(out), "more_body": True})
                    out = []
                chunk = await anext(stream, None)
            tail = _sse(events.end())
        except Exception as exc:
            tail = _error_event(call, exc)
    if keep_text:
        call.record.response = "".join(text)
    # Nothing may be awaited after the last send (see chat.py).
    await send({"type": "http.response.body", "body": tail, "more_body": False})


# -- count_tokens ------------------------------------------------------------------------------
def _estimate(chat: dict[str, Any]) -> int:
    """About four characters a token (the fold's estimate): messages, then tool definitions."""
    count = sum(estimate_tokens(content_text(m.get("content"))) + 4 for m in chat["messages"])
    for message in chat["messages"]:
        for tool_call in message.get("tool_calls") or ():
            count += estimate_tokens(orjson.dumps(tool_call["function"]).decode())
    if chat.get("tools"):
        count += estimate_tokens(orjson.dumps(chat["tools"]).decode())
    return count


async def handle_count_tokens(gateway: Gateway, call: Call) -> None:
    body, route, _ = await _read(gateway, call)
    targets = _anthropic(route)
    if targets is not None:
        body.pop("stream", None)
        await _passthrough(gateway, call, body, route, targets, "messages/count_tokens")
        return
    chat = chat_body(body)
    await send_json(call.send, 200, {"input_tokens": _estimate(chat)})
