"""``/v1/responses``: OpenAI's Responses API in front of every provider, for the openai SDKs'
``responses.create``, the Agents SDK, Codex and the AI SDK.

A model whose providers are all OpenAI itself: the request goes to OpenAI's own
``/v1/responses`` untranslated (built-in tools, reasoning items and all) and the answer comes
back byte for byte; OpenAI keeps those responses, the gateway records only which key owns
each id, and forwards that key's retrieve / delete / input_items for it (passthrough.py).
Any other model:``POST /v1/responses`` runs the client's Responses API (client/responses.py, the one
translation) with the caller's stored responses: the gateway's database keeps them per key
(response_store.py), so ``previous_response_id``, ``GET /v1/responses/{id}``,
``DELETE /v1/responses/{id}`` and ``GET /v1/responses/{id}/input_items`` see only the
caller's own; ``store: false`` keeps one out; ``[server] responses_retention_days`` bounds
how long they stay.

Streaming: the first event is awaited before the answer starts, so a failure to start is a
plain JSON error with its status; later failures end the stream with ``response.failed``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode

import orjson

from ..client.responses import FIELDS, IGNORED, AsyncResponseStream, Responses
from ..dialects.responses import chat_messages, input_items
from ..errors import InvalidRequestError
from ..providers.base import Provider
from ..providers.openai import OpenAI
from ..transport.base import HttpRequest
from ..types.responses import Response, ResponseStreamEvent
from .asgi import send_json, until_disconnect
from .chat import SSE_HEADERS
from .errormap import GatewayHTTPError
from .limits import check_chat, passed_through
from .passthrough import relay
from .response_store import KeyResponses, ResponseDB
from .targets import Pinned, Route

if TYPE_CHECKING:
    from .app import Call, Gateway

__all__ = ["PREFIX", "handle_create", "handle_delete", "handle_get"]

PREFIX = "/v1/responses/"
#: The fields taken by name. Not service_tier: it changes what a call costs (and goes to OpenAI
#: as sent on the native path), so, as for chat, only the operator's pass_through lets it by.
_NAMED = (FIELDS | IGNORED | {"model", "input", "stream"}) - {"service_tier"}
_ENDS = frozenset({"response.completed", "response.incomplete", "response.failed"})

log = logging.getLogger("polymux.server")


async def _database(gateway: Gateway) -> ResponseDB:
    """The gateway's response store, opened on first use (closed by ``Gateway.aclose``)."""
    db = gateway.response_db
    if db is None:
        db = ResponseDB(await gateway.database(), gateway.config.responses_retention_days)
        gateway.response_db = db
    return db


async def _responses(gateway: Gateway, call: Call) -> Responses:
    store = (await _database(gateway)).for_key(call.key_name)
    return gateway.client.responses.with_store(store)


def _log_usage(call: Call, response: Response) -> None:
    record = call.record
    record.provider = response.provider
    usage = response.usage
    if usage is not None:
        record.prompt_tokens = usage.input_tokens
        record.completion_tokens = usage.output_tokens
        record.total_tokens = usage.total_tokens
        record.cached_tokens = usage.input_tokens_details.cached_tokens or None
    if response.status == "failed" and response.error is not None:
        record.status = 502
        record.error = response.error.message[:500]


def _sse(event: ResponseStreamEvent) -> bytes:
    return (
        b"event: " + event.type.encode() + b"\ndata: " + orjson.dumps(event.model_dump()) + b"\n\n"
    )


async def handle_create(gateway: Gateway, call: Call) -> None:
    body = await gateway.read_json(call)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequestError("model is required (a string)")
    stream = body.get("stream") or False
    if not isinstance(stream, bool):
        raise InvalidRequestError(f"stream must be true or false, got {stream!r}")
    # Fields beyond the Responses API's: only those the operator lets through ([server]
    # pass_through), as for every endpoint; they travel in the body (to OpenAI itself) or
    # as extra_body (through the translation).
    extra = passed_through(body, _NAMED, gateway.pass_through)
    fields = {k: v for k, v in body.items() if k in FIELDS}
    if extra:
        fields["extra_body"] = extra
    record = call.record
    call.use_model(model)
    record.stream = stream
    if gateway.config.log_content:
        record.request = orjson.dumps(body.get("input")).decode()
    route = gateway.models.route(model)
    natives = _openai(route)
    if natives is not None:
        await _passthrough(gateway, call, body, route, natives)
        return
    # The gateway's message and image limits, on the messages this input becomes.
    check_chat({"messages": chat_messages(input_items(body.get("input")))}, gateway.limits)
    responses = await _responses(gateway, call)
    try:
        result = responses.create(
            model=route.model,
            input=body.get("input"),
            stream=stream,
            provider=route.providers,
            **fields,
        )
    except (TypeError, KeyError, AttributeError, IndexError) as exc:
        # create() only checks input before awaiting anything (see chat.py).
        log.warning("responses body not caught by validation: %s: %s", type(exc).__name__, exc)
        raise InvalidRequestError(f"invalid request: {exc}") from exc
    if isinstance(result, AsyncResponseStream):
        await until_disconnect(call, _stream(gateway, call, result))
        return
    response: Response = await until_disconnect(call, result)
    _log_usage(call, response)
    if gateway.config.log_content:
        record.response = response.output_text
    await send_json(call.send, 200, response.model_dump())


async def _stream(gateway: Gateway, call: Call, stream: AsyncResponseStream) -> None:
    send = call.send
    async with stream:
        first = await stream.__anext__()  # errors here: a JSON answer
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        call.responded = True
        call.record.ttft_ms = call.elapsed_ms()
        event: ResponseStreamEvent | None = first
        tail = b""
        try:
            while event is not None:
                if event.type in _ENDS:
                    _log_usage(call, event.response)
                await send({"type": "http.response.body", "body": _sse(event), "more_body": True})
                event = await anext(stream, None)
        except Exception as exc:  # the stream reports upstream failures itself: this is ours
            tail = _error_event(call, exc)
    if gateway.config.log_content and stream.final is not None:
        call.record.response = stream.final.output_text
    await send({"type": "http.response.body", "body": tail, "more_body": False})


# -- OpenAI upstream: passed through -----------------------------------------------------------
def _openai(route: Route) -> dict[Provider, OpenAI] | None:
    """Each routed provider with its OpenAI provider, when every one is OpenAI itself."""
    out: dict[Provider, OpenAI] = {}
    for provider in route.providers:
        inner = provider.inner if isinstance(provider, Pinned) else provider
        if not isinstance(inner, OpenAI):
            return None
        out[provider] = inner
    return out


def _owned_usage(call: Call, store: KeyResponses, keep: bool) -> Any:
    """The passthrough's watch: usage for the log, and the id of a response OpenAI keeps
    recorded for this key (before the caller can name it in a follow-up request)."""

    async def watch(payload: Any) -> None:
        if not isinstance(payload, dict):
            return
        response = payload.get("response") if "response" in payload else payload
        if not isinstance(response, dict) or not isinstance(response.get("id"), str):
            return
        if keep and payload.get("type") in (None, "response.created"):
            await store.put_native(response["id"], call.record.provider or "")
        usage = response.get("usage")
        if isinstance(usage, dict):
            call.record.prompt_tokens = usage.get("input_tokens")
            call.record.completion_tokens = usage.get("output_tokens")
            call.record.total_tokens = usage.get("total_tokens")

    return watch


async def _passthrough(
    gateway: Gateway,
    call: Call,
    body: dict[str, Any],
    route: Route,
    natives: dict[Provider, OpenAI],
) -> None:
    store = (await _database(gateway)).for_key(call.key_name)
    previous = body.get("previous_response_id")
    if previous is not None and (
        not isinstance(previous, str) or await store.upstream_of(previous) is None
    ):
        raise InvalidRequestError(
            f"previous_response_id {previous!r} names no response of this key"
        )
    options = gateway.client.options

    def request(provider: Provider) -> HttpRequest:
        call.record.provider = provider.name
        sent = {**body, "model": provider.resolve_model(route.model)}
        return natives[provider].native_request("POST", "responses", options, sent)

    await relay(
        gateway,
        call,
        list(natives),
        request,
        stream=body.get("stream") is True,
        watch=_owned_usage(call, store, body.get("store") is not False),
        broken=lambda exc: _error_event(call, exc),
    )


def _error_event(call: Call, exc: BaseException) -> bytes:
    """The Responses stream's ``error`` event for a failure after the answer started."""
    _, error = call.failed(exc)
    return b"event: error\ndata: " + orjson.dumps({**error["error"], "type": "error"}) + b"\n\n"


async def _forward(
    gateway: Gateway, call: Call, store: KeyResponses, method: str, response_id: str, what: str
) -> bool:
    """Send a retrieve / delete / input_items of a response OpenAI keeps to that provider;
    False when this key has no such response there."""
    upstream = await store.upstream_of(response_id)
    provider = gateway.models.providers.get(upstream or "")
    if not isinstance(provider, OpenAI):
        return False
    path = f"responses/{quote(response_id, safe='')}"
    if what:
        query = urlencode(parse_qsl(call.scope.get("query_string", b"").decode("latin-1")))
        path += f"/{what}" + (f"?{query}" if query else "")
    options = gateway.client.options
    await relay(
        gateway,
        call,
        [provider],
        lambda p: provider.native_request(method, path, options),
        stream=False,
        watch=_nothing,
        broken=lambda exc: b"",
    )
    if method == "DELETE" and call.record.status in (0, 200):
        await store.delete(response_id)
    return True


async def _nothing(payload: Any) -> None:
    return None


def _target(call: Call) -> tuple[str, str]:
    """(response id, what of it) from ``/v1/responses/{id}[/input_items]``."""
    rest = call.scope["path"][len(PREFIX) :]
    response_id, _, what = rest.partition("/")
    if not response_id or what not in ("", "input_items"):
        raise GatewayHTTPError(404, f"no route for {call.scope['path']}", code="unknown_url")
    return response_id, what


def _missing(response_id: str) -> GatewayHTTPError:
    return GatewayHTTPError(
        404,
        f"no stored response with id {response_id!r} for this key",
        code="response_not_found",
    )


async def handle_get(gateway: Gateway, call: Call) -> None:
    response_id, what = _target(call)
    store = (await _database(gateway)).for_key(call.key_name)
    stored = await store.get(response_id)
    if stored is None:
        if await _forward(gateway, call, store, "GET", response_id, what):
            return
        raise _missing(response_id)
    if what == "":
        await send_json(call.send, 200, stored.response.model_dump())
        return
    query = dict(
        part.split("=", 1)
        for part in call.scope.get("query_string", b"").decode().split("&")
        if "=" in part
    )
    listed = await gateway.client.responses.with_store(store).input_items.list(
        response_id, order=query.get("order", "desc")
    )
    await send_json(call.send, 200, listed.model_dump())


async def handle_delete(gateway: Gateway, call: Call) -> None:
    response_id, what = _target(call)
    if what:
        raise GatewayHTTPError(
            405, "only a response itself can be deleted", headers={"allow": "GET"}
        )
    store = (await _database(gateway)).for_key(call.key_name)
    if await _forward(gateway, call, store, "DELETE", response_id, what):
        return
    if not await store.delete(response_id):
        raise _missing(response_id)
    await send_json(call.send, 200, {"id": response_id, "object": "response", "deleted": True})
