"""The little of ASGI the gateway needs: read a size-capped body, send JSON, send errors, and
notice a client that went away. No framework: each request costs a few function calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, TypeVar

import orjson

from .errormap import GatewayHTTPError, error_body

__all__ = [
    "Receive",
    "Scope",
    "Send",
    "header",
    "read_body",
    "read_json",
    "send_bytes",
    "send_error",
    "send_json",
    "until_disconnect",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
T = TypeVar("T")

JSON_TYPE = (b"content-type", b"application/json")


class ClientDisconnected(Exception):
    """The HTTP client closed the connection before its answer was complete (internal)."""


def header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value  # type: ignore[no-any-return]
    return None


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The request body; 413 as soon as it is known to exceed ``limit`` bytes."""
    length = header(scope, b"content-length")
    if length is not None:
        try:
            declared = int(length)
        except ValueError:
            raise GatewayHTTPError(400, "invalid Content-Length header") from None
        if declared > limit:
            raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        body = message.get("body", b"")
        if body:
            size += len(body)
            if size > limit:
                raise _too_large(limit)
            chunks.append(body)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large(limit: int) -> GatewayHTTPError:
    return GatewayHTTPError(
        413,
        f"request body too large: this gateway accepts {limit} bytes",
        code="request_too_large",
    )


async def read_json(scope: Scope, receive: Receive, limit: int) -> dict[str, Any]:
    """The body as a JSON object; clear 400s for anything else."""
    raw = await read_body(scope, receive, limit)
    if not raw.strip():
        raise GatewayHTTPError(400, "the request body is empty; send a JSON object")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise GatewayHTTPError(400, f"the request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise GatewayHTTPError(
            400, f"the request body must be a JSON object, got {type(data).__name__}"
        )
    return data


async def send_bytes(
    send: Send,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]],
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def send_json(
    send: Send, status: int, data: Any, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await send_bytes(send, status, orjson.dumps(data), [JSON_TYPE, *(headers or ())])


async def send_error(
    send: Send,
    status: int,
    message: str,
    type: str = "invalid_request_error",
    code: str | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    await send_json(send, status, error_body(message, type, code), headers)


async def _disconnected(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def until_disconnect(receive: Receive, work: Awaitable[T]) -> T:
    """Run ``work``; cancel it at once if the client disconnects (``ClientDisconnected``).

    The body must have been read: from then on ``receive()`` only reports the disconnect
    (or, once the answer is complete, returns it immediately, which ends the watcher).
    """
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(receive))
    try:
        await asyncio.wait((task, watcher), return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        watcher.cancel()
        raise
    if task.done():
        watcher.cancel()
        return task.result()
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    except Exception:  # the work's own error no longer matters: nobody is listening
        pass
    raise ClientDisconnected
