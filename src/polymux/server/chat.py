"""``POST /v1/chat/completions``: an OpenAI request body -> ``AsyncClient`` -> JSON or SSE.

The body is mapped by hand onto ``chat.completions.create``, which checks every value and
raises ``InvalidRequestError`` (a 400). Fields the client does not name are passed to the
upstream in ``extra_body``, as an OpenAI SDK caller's would be; fields that steer the gateway
itself (``provider``, ``proxy``, ``extra_headers``, ``timeout`` ...) are never taken from a
request.

Streaming: the first chunk is awaited before the answer starts, so a failure to start is a
plain JSON error with its status. After that an error is one SSE ``{"error": ...}`` event,
then the end of the stream. A client that disconnects cancels the upstream call at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Coroutine
from typing import TYPE_CHECKING, Any

import orjson

from ..client.stream import AsyncChatStream
from ..errors import InvalidRequestError
from ..types._record import json_bytes
from ..types.chat import ChatCompletion, ChatCompletionChunk, CompletionUsage
from ..types.request import BODY_FIELDS
from .asgi import until_disconnect
from .chat_relay import DONE, SSE_HEADERS, on_the_wire, relay, relays
from .limits import check_chat, passed_through
from .shared.cache import CACHE_HEADER

if TYPE_CHECKING:
    from .app import Call, Gateway

__all__ = ["SSE_HEADERS", "handle"]

log = logging.getLogger("polymux.server")

#: Body fields passed to ``create()`` by name; the client validates each.
_PARAMS = (*BODY_FIELDS, "stream_options")
_PARAM_NAMES = frozenset(_PARAMS)
_HANDLED = frozenset({"model", "messages", "stream", *_PARAMS})
_STRING_PARAMS = ("user", "reasoning_effort")


def _params(body: dict[str, Any], allowed: Collection[str]) -> dict[str, Any]:
    # One pass over the body's few keys, not a lookup of every field it could hold.
    params = {k: v for k, v in body.items() if k in _PARAM_NAMES and v is not None}
    for name in _STRING_PARAMS:
        if name in params and not isinstance(params[name], str):
            raise InvalidRequestError(f"{name} must be a string")
    options = params.get("stream_options")
    if options is not None and (
        not isinstance(options, dict) or not isinstance(options.get("include_usage", False), bool)
    ):
        raise InvalidRequestError('stream_options must be an object like {"include_usage": true}')
    if not _HANDLED.issuperset(body):  # fields the gateway does not name
        params["extra_body"] = passed_through(body, _HANDLED, allowed)
    return params


def _parts(gateway: Gateway, body: dict[str, Any], stream: bool) -> tuple[str, dict[str, Any]]:
    """The model and the other keyword arguments (``provider=`` the route's providers) of
    ``chat.completions.create`` for this body, besides ``messages`` and ``stream``."""
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise InvalidRequestError(f"model must be a string, got {type(model).__name__}")
    route = gateway.models.route(model or "")
    params = _params(body, gateway.pass_through)
    if stream:
        # Usage is always asked for, so the log has tokens; it reaches the caller only if
        # the caller asked for it too.
        params["stream_options"] = {**(params.get("stream_options") or {}), "include_usage": True}
    params["provider"] = route.providers
    return route.model, params


def _arguments(
    model: str, params: dict[str, Any], body: dict[str, Any], stream: bool
) -> dict[str, Any]:
    """The keyword arguments of ``chat.completions.create`` for this body (``_parts``)."""
    return {"model": model, "messages": body.get("messages"), "stream": stream, **params}


def _create(gateway: Gateway, body: dict[str, Any], stream: bool) -> Any:
    """``chat.completions.create`` for this body (its stream, or its awaitable answer)."""
    model, params = _parts(gateway, body, stream)
    return _call(gateway, _arguments(model, params, body, stream))


def _call(gateway: Gateway, arguments: dict[str, Any]) -> Any:
    try:
        return gateway.client.chat.completions.create(**arguments)
    except (TypeError, KeyError, AttributeError, IndexError) as exc:
        raise _unchecked(exc) from exc


def _unchecked(exc: Exception) -> InvalidRequestError:
    # create() only checks input before awaiting anything, so whatever it raises there
    # was caused by the body; a shape its checks missed is still a 400, not a 500.
    log.warning("chat body not caught by validation: %s: %s", type(exc).__name__, exc)
    return InvalidRequestError(f"invalid request: {exc}")


def _relayed(
    gateway: Gateway,
    call: Call,
    model: str,
    params: dict[str, Any],
    body: dict[str, Any],
    stream: bool,
    cached: str | None,
) -> Coroutine[Any, Any, None] | None:
    """The answer through the same-dialect relay (chat_relay.py), to await, if the call
    allows it; else None. Handed back, not awaited here: a frame less for every resumption."""
    if not all(map(on_the_wire, params["provider"])):
        return None
    try:
        request, providers, routing = gateway.client.chat.completions.prepare(
            model, body["messages"], stream, params
        )
    except (TypeError, KeyError, AttributeError, IndexError) as exc:
        raise _unchecked(exc) from exc
    if not relays(request, providers, routing or gateway.client.router.options):
        return None
    return relay(
        gateway, call, request, providers, routing, wants_usage=_wants_usage(body), cached=cached
    )


def _wants_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and bool(options.get("include_usage"))


def _usage(call: Call, usage: CompletionUsage | None) -> None:
    if usage is not None:
        call.record.prompt_tokens = usage.prompt_tokens
        call.record.completion_tokens = usage.completion_tokens
        call.record.total_tokens = usage.total_tokens
        details = usage.prompt_tokens_details
        if details is not None and details.cached_tokens:
            call.record.cached_tokens = details.cached_tokens


async def handle(gateway: Gateway, call: Call) -> None:
    body = await gateway.read_json(call)
    check_chat(body, gateway.limits)
    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise InvalidRequestError(f"stream must be true or false, got {stream!r}")
    if not isinstance(body.get("messages"), list):
        # The library also takes a bare string; the wire API, like OpenAI's, wants an array.
        raise InvalidRequestError(
            'messages must be an array of message objects like {"role": "user", "content": "hi"}'
        )
    record = call.record
    call.use_model(body.get("model") if isinstance(body.get("model"), str) else None)
    record.stream = stream
    if gateway.config.log_content:
        record.request = orjson.dumps(body.get("messages")).decode()
    cached = None if stream or gateway.cache is None else gateway.cache.wanted(call, body)
    if cached is not None and await _send_cached(gateway, call, cached):
        return
    model, params = _parts(gateway, body, stream)
    relayed = (
        _relayed(gateway, call, model, params, body, stream, cached)
        if gateway.config.relay_chat
        else None
    )
    if relayed is not None:
        await relayed
        return
    result = _call(gateway, _arguments(model, params, body, stream))
    if stream:
        await until_disconnect(call, _stream(gateway, call, result, body))
        return
    completion: ChatCompletion = await until_disconnect(call, result)
    record.provider = completion.provider
    _usage(call, completion.usage)
    if gateway.config.log_content and completion.choices:
        record.response = completion.choices[0].message.content
    data = json_bytes(completion)  # what dumping it would give, serialized natively
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(data)).encode()),
    ]
    if cached is not None and gateway.cache is not None:
        headers.append((CACHE_HEADER, b"miss"))
        await gateway.cache.put(cached, (completion.provider or "").encode() + b"\n" + data)
    await call.send({"type": "http.response.start", "status": 200, "headers": headers})
    await call.send({"type": "http.response.body", "body": data})


async def _send_cached(gateway: Gateway, call: Call, name: str) -> bool:
    """Answer from the response cache if it holds this request's answer (no upstream call:
    the usage row says ``cached`` and counts no tokens)."""
    assert gateway.cache is not None
    entry = await gateway.cache.get(name)
    if entry is None:
        return False
    provider, _, data = entry.partition(b"\n")
    call.record.provider = provider.decode() or None
    call.record.cached = True
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(data)).encode()),
        (CACHE_HEADER, b"hit"),
    ]
    await call.send({"type": "http.response.start", "status": 200, "headers": headers})
    await call.send({"type": "http.response.body", "body": data})
    return True


async def _stream(
    gateway: Gateway, call: Call, stream: AsyncChatStream, body: dict[str, Any]
) -> None:
    wants_usage = _wants_usage(body)
    send = call.send
    record = call.record
    dumps = orjson.dumps
    keep_text = gateway.config.log_content
    text: list[str] = []
    tail = DONE
    async with stream:
        first: ChatCompletionChunk = await stream.__anext__()  # errors here: a JSON answer
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        call.responded = True
        record.ttft_ms = call.elapsed_ms()
        record.provider = first.provider
        chunk: ChatCompletionChunk | None = first
        try:
            while chunk is not None:
                if chunk.usage is not None and not chunk.choices:
                    _usage(call, chunk.usage)
                    if not wants_usage:
                        chunk = await anext(stream, None)
                        continue
                if keep_text and chunk.choices and chunk.choices[0].delta.content:
                    text.append(chunk.choices[0].delta.content)
                await send(
                    {
                        "type": "http.response.body",
                        "body": b"data: " + json_bytes(chunk) + b"\n\n",
                        "more_body": True,
                    }
                )
                chunk = await anext(stream, None)
        except asyncio.CancelledError:
            await send({"type": "http.response.body", "body": call.stopped(), "more_body": False})
            raise
        except Exception as exc:
            _, error = call.failed(exc)
            tail = b""  # the error event is the last one: no [DONE] after a failure
            await send(
                {
                    "type": "http.response.body",
                    "body": b"data: " + dumps(error) + b"\n\n",
                    "more_body": True,
                }
            )
    if keep_text:
        record.response = "".join(text)
    # Nothing may be awaited after the last send: until_disconnect reads the end of the
    # answer as a disconnect once this task is not done.
    await send({"type": "http.response.body", "body": tail, "more_body": False})
