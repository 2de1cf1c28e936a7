"""Native passthrough: a front door's request sent untranslated to providers that speak its
dialect themselves (Anthropic behind ``/v1/messages``, OpenAI behind ``/v1/responses``), and
the answer copied back byte for byte, so nothing the translation would drop is lost.

The providers are tried through the client's router (order, cooldowns, health, fallback and
the total deadline, as for images); an upstream error body is sent back as the upstream sent
it, with its status. ``watch`` sees the answer's JSON on the way (the whole body, or each
streamed event's data) to log usage and ids.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from ..client.event_streams import whole_object
from ..errors import APIStatusError
from ..providers.base import Provider
from ..transport.base import ByteStream, HttpRequest
from ..transport.sse import SSEDecoder
from .asgi import JSON_TYPE, send_bytes, send_json, until_disconnect
from .chat import SSE_HEADERS

if TYPE_CHECKING:
    from .app import Call, Gateway

__all__ = ["relay", "relay_events"]

#: Sees each JSON payload of the answer before it is sent on (an async callback, so it can
#: record what a follow-up request will need before the caller can make it).
Watch = Callable[[Any], Awaitable[None]]
#: A whole JSON answer to a streamed request, as the stream's one event.
Whole = Callable[[dict[str, Any]], dict[str, Any]]
T = TypeVar("T")


async def relay(
    gateway: Gateway,
    call: Call,
    providers: list[Provider],
    request: Callable[[Provider], HttpRequest],
    *,
    stream: bool,
    watch: Watch,
    broken: Callable[[BaseException], bytes],
    upstream_errors: bool = True,
    whole_event: Whole | None = None,
) -> None:
    """Send ``request(provider)`` to the first provider that answers; copy its answer.
    ``broken(exc)``: the SSE bytes that end a stream the upstream broke off.
    ``upstream_errors=False``: an upstream error is answered in the gateway's own shape
    (as the endpoint's other answers are), not copied.
    ``whole_event``: a streamed request answered with one JSON body (a host that ignored
    ``stream``) is relayed as the one event ``whole_event(body)``, not as SSE it is not."""
    client = gateway.client
    total = client.options.timeout.total
    async with contextlib.AsyncExitStack() as stack:

        async def whole(provider: Provider) -> bytes:
            async with client.router.slot(provider):
                return (await client.transport.request(request(provider))).body

        async def opened(provider: Provider) -> ByteStream:
            await stack.enter_async_context(client.router.slot(provider))
            return await stack.enter_async_context(client.transport.stream(request(provider)))

        try:
            if not stream:
                provider, data = await until_disconnect(
                    call, client.router.first(providers, _first(whole), total=total)
                )
            else:
                provider, upstream = await until_disconnect(
                    call, client.router.first(providers, _first(opened), total=total)
                )
        except APIStatusError as exc:
            if not upstream_errors or not isinstance(exc.body, dict):
                raise
            call.record.status = exc.status_code
            call.record.error = str(exc)[:500]
            call.responded = True
            await send_json(call.send, exc.status_code, exc.body)
            return
        call.record.provider = provider.name
        if not stream:
            await client.router.settle(provider.name)
            # A body that is not JSON still goes to the caller as it came; only the log lacks.
            payload: Any = None
            with contextlib.suppress(orjson.JSONDecodeError):
                payload = orjson.loads(data)
            await watch(payload)
            await send_bytes(call.send, 200, data, [JSON_TYPE])
            return
        pieces = upstream.iter_bytes()
        if whole_event is not None and "json" in upstream.headers.get("Content-Type", ""):
            pieces = _one_event(upstream, provider.name, whole_event)
        failure = await until_disconnect(call, _copy(call, pieces, watch, broken))
        await client.router.settle(provider.name, failure)


async def _one_event(upstream: ByteStream, provider: str, whole: Whole) -> AsyncIterator[bytes]:
    yield b"data: " + orjson.dumps(whole(await whole_object(upstream, provider))) + b"\n\n"


def _complete(data: bytes) -> int:
    """Where the last complete SSE event in ``data`` ends (0: none is complete yet)."""
    lf, crlf = data.rfind(b"\n\n"), data.rfind(b"\r\n\r\n")
    return max(lf + 2 if lf >= 0 else 0, crlf + 4 if crlf >= 0 else 0)


def _first(call: Callable[[Provider], Awaitable[T]]) -> Callable[[Provider, Any], Awaitable[T]]:
    """An attempt for ``Router.first`` (the upstream's own deadline bounds each one)."""
    return lambda provider, _deadline: call(provider)


async def _copy(
    call: Call,
    pieces: AsyncIterator[bytes],
    watch: Watch,
    broken: Callable[[BaseException], bytes],
) -> BaseException | None:
    """Copy the stream; the upstream's failure, if it broke off."""
    send = call.send
    await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
    call.responded = True
    call.record.ttft_ms = call.elapsed_ms()
    decoder = SSEDecoder()  # bounds an event's size: a line without end raises
    held = b""  # the start of an event not yet complete: sent once it is
    failure: BaseException | None = None
    try:
        async for piece in pieces:
            for event in decoder.feed(piece):
                payload: Any = None
                with contextlib.suppress(orjson.JSONDecodeError):
                    payload = orjson.loads(event.data)
                await watch(payload)
            held += piece
            end = _complete(held)
            if end:
                await send({"type": "http.response.body", "body": held[:end], "more_body": True})
                held = held[end:]
        tail = held
    except Exception as exc:
        # Only whole events were sent: the error event cannot land inside a broken one.
        tail = broken(exc)
        failure = exc
    # Nothing may be awaited after the last send (see chat.py).
    await send({"type": "http.response.body", "body": tail, "more_body": False})
    return failure


async def relay_events(
    gateway: Gateway,
    call: Call,
    providers: list[Provider],
    request: Callable[[Provider], HttpRequest],
    *,
    done: str,
    on_done: Callable[[dict[str, Any]], None] = lambda payload: None,
    whole_event: Whole | None = None,
) -> None:
    """A stream of OpenAI's typed JSON events (``transcript.text.*``, ``image_edit.*``)
    relayed whole as they come: each ``done`` event is shown to ``on_done`` and its token
    usage goes to the usage row; a failure before the stream starts is answered in the
    gateway's own error shape (as the endpoint's unstreamed answers are), one after it ends
    the stream with an error event (the SDK raises on its data)."""
    call.record.stream = True

    async def watch(payload: Any) -> None:
        if not isinstance(payload, dict) or payload.get("type") != done:
            return
        on_done(payload)
        usage = payload.get("usage")
        if isinstance(usage, dict) and isinstance(usage.get("input_tokens"), int):
            call.record.prompt_tokens = usage["input_tokens"]
            call.record.completion_tokens = usage.get("output_tokens")
            call.record.total_tokens = usage.get("total_tokens")

    def broken(exc: BaseException) -> bytes:
        _, error = call.failed(exc)
        return b"data: " + orjson.dumps(error) + b"\n\n"

    await relay(
        gateway,
        call,
        providers,
        request,
        stream=True,
        watch=watch,
        broken=broken,
        upstream_errors=False,
        whole_event=whole_event,
    )
