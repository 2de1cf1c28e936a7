"""``POST /v1/completions``: the legacy text completion API -> ``completions.create`` ->
JSON or SSE (``text_completion`` chunks, then ``data: [DONE]``).

As for chat: the first chunk is awaited before the answer starts (a failure to start is a
plain JSON error with its status); later errors are one in-band ``{"error": ...}`` event.
Usage is always asked for, so the log has tokens; it reaches the caller only when asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from ..client.text_completions import BODY_FIELDS
from ..errors import InvalidRequestError
from ..types.completions import Completion
from .asgi import JSON_TYPE, read_json, send_bytes, until_disconnect
from .body import body_params, model_of
from .chat import SSE_HEADERS
from .chat import _usage as record_usage
from .errormap import map_error

if TYPE_CHECKING:
    from ..client.text_completions import AsyncCompletionStream
    from .app import Call, Gateway

__all__ = ["handle"]


async def handle(gateway: Gateway, call: Call) -> None:
    body = await read_json(call.scope, call.receive, gateway.limits.max_body_bytes)
    model = model_of(body)
    stream = body.get("stream") or False
    if not isinstance(stream, bool):
        raise InvalidRequestError(f"stream must be true or false, got {stream!r}")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise InvalidRequestError('stream_options must be an object like {"include_usage": true}')
    wants_usage = bool(options and options.get("include_usage"))
    route = gateway.models.route(model or "")
    record = call.record
    call.use_model(model)
    record.stream = stream
    if gateway.config.log_content:
        record.request = orjson.dumps(body.get("prompt")).decode()[:100_000]
    params = body_params(
        body,
        BODY_FIELDS,
        strings=("user", "suffix"),
        handled=("model", "prompt", "stream"),
        allowed=gateway.pass_through,
    )
    if stream:
        params["stream_options"] = {**(options or {}), "include_usage": True}
    try:
        result = gateway.client.completions.create(
            prompt=body.get("prompt"),
            model=route.model,
            stream=stream,
            provider=route.providers,
            **params,
        )
    except (TypeError, KeyError, AttributeError, IndexError) as exc:
        raise InvalidRequestError(f"invalid request: {exc}") from exc
    if not stream:
        completion: Completion = await until_disconnect(call, result)  # type: ignore[arg-type]
        record.provider = completion.provider
        record_usage(call, completion.usage)
        if gateway.config.log_content and completion.choices:
            record.response = completion.choices[0].text
        await send_bytes(call.send, 200, orjson.dumps(completion.model_dump()), [JSON_TYPE])
        return
    await until_disconnect(call, _stream(call, result, wants_usage))  # type: ignore[arg-type]


async def _stream(call: Call, stream: AsyncCompletionStream, wants_usage: bool) -> None:
    send = call.send
    record = call.record
    tail = b"data: [DONE]\n\n"
    async with stream:
        chunk: Any = await stream.__anext__()  # errors here: a JSON answer
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        call.responded = True
        record.ttft_ms = call.elapsed_ms()
        record.provider = chunk.provider
        try:
            while chunk is not None:
                if chunk.usage is not None and not chunk.choices:
                    record_usage(call, chunk.usage)
                if chunk.choices or wants_usage:
                    data = b"data: " + orjson.dumps(chunk.model_dump()) + b"\n\n"
                    await send({"type": "http.response.body", "body": data, "more_body": True})
                chunk = await anext(stream, None)
        except Exception as exc:
            status, error, _ = map_error(exc)
            record.status = status
            record.error = error["error"]["message"][:500]
            tail = b""  # the error event is the last one: no [DONE] after a failure
            data = b"data: " + orjson.dumps(error) + b"\n\n"
            await send({"type": "http.response.body", "body": data, "more_body": True})
    # Nothing may be awaited after the last send (see chat.py).
    await send({"type": "http.response.body", "body": tail, "more_body": False})
