"""The little of ASGI the gateway needs: read a size-capped body, send JSON, send errors, and
notice a client that went away. No framework: each request costs a few function calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from typing import Any, NoReturn, Protocol, TypeVar

import orjson

from ..transport.deadline import DeadlineWatcher
from .errormap import GatewayHTTPError, error_body

__all__ = [
    "CONNECTION_WATCH",
    "ClientDisconnected",
    "ConnectionWatch",
    "Exchange",
    "Receive",
    "Scope",
    "Send",
    "header",
    "read_body",
    "read_json",
    "read_upload",
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


async def read_body(
    scope: Scope,
    receive: Receive,
    limit: int,
    timeout: float | None = None,
    deadlines: DeadlineWatcher | None = None,
) -> bytes:
    """The request body; 413 as soon as it is known to exceed ``limit`` bytes, 408 when it
    has not all arrived within ``timeout`` seconds (a slow sender holds a connection and a
    slot: a thousand of them starved every other client).

    The timeout is a deadline in ``deadlines`` (the gateway keeps one for its loop; None:
    one of its own): a set add and discard a request where ``asyncio.timeout`` armed and
    cancelled a timer of its own, about 27 k instructions, 3 % of a gateway request."""
    chunks: list[bytes] = []
    await _receive_body(scope, receive, limit, chunks.append, timeout, deadlines)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def read_upload(
    scope: Scope,
    receive: Receive,
    limit: int,
    timeout: float | None = None,
    deadlines: DeadlineWatcher | None = None,
) -> bytearray:
    """An upload's body, read into one buffer as it arrives (no list of chunks joined into
    a second copy): its parts are handed on as views of it, so the upload is held once.
    413 and 408 as ``read_body``."""
    buffer = bytearray()
    await _receive_body(scope, receive, limit, buffer.extend, timeout, deadlines)
    return buffer


async def _receive_body(
    scope: Scope,
    receive: Receive,
    limit: int,
    add: Callable[[bytes], object],
    timeout: float | None,
    deadlines: DeadlineWatcher | None,
) -> None:
    """Pass the body's chunks to ``add`` as they arrive; 413 as soon as they exceed
    ``limit`` bytes, 408 when they have not all arrived within ``timeout`` seconds. One
    coroutine: the deadline around the reading loop is not a coroutine of its own."""
    length = header(scope, b"content-length")
    if length is not None:
        try:
            declared = int(length)
        except ValueError:
            raise GatewayHTTPError(400, "invalid Content-Length header") from None
        if declared > limit:
            raise _too_large(limit)
    watch = None
    if timeout is not None:
        if deadlines is None:
            deadlines = DeadlineWatcher(asyncio.get_running_loop())
        watch = deadlines.watch(timeout, None)
    size = 0
    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnected
            body = message.get("body", b"")
            if body:
                size += len(body)
                if size > limit:
                    raise _too_large(limit)
                add(body)
            if not message.get("more_body", False):
                break
    except asyncio.CancelledError:
        if watch is not None and watch.owns():
            raise GatewayHTTPError(
                408,
                f"the request body did not arrive within {timeout:g} s",
                code="request_timeout",
            ) from None
        raise
    finally:
        if watch is not None:
            watch.stop()


def _too_large(limit: int) -> GatewayHTTPError:
    return GatewayHTTPError(
        413,
        f"request body too large: this gateway accepts {limit} bytes",
        code="request_too_large",
    )


async def read_json(
    scope: Scope,
    receive: Receive,
    limit: int,
    *,
    max_depth: int = 64,
    timeout: float | None = None,
    deadlines: DeadlineWatcher | None = None,
) -> dict[str, Any]:
    """The body as a JSON object; clear 400s for anything else, also for nesting deeper
    than ``max_depth`` (orjson parses 1,024 levels but writes only 255: deeper bodies would
    fail later, as a 500)."""
    raw = await read_body(scope, receive, limit, timeout, deadlines)
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
    # Only a body with that many brackets can be that deep: counting them is C-speed, the
    # walk runs only then.
    if raw.count(b"[") + raw.count(b"{") > max_depth and _deeper_than(data, max_depth):
        raise GatewayHTTPError(400, f"the request body is nested deeper than {max_depth} levels")
    return data


def _deeper_than(data: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        children = value.values() if isinstance(value, dict) else value
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


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


#: The ASGI scope extension under which the gateway's own uvicorn protocols (protocol.py)
#: offer the connection's ``ConnectionWatch``.
CONNECTION_WATCH = "polymux.connection_watch"


class Exchange(Protocol):
    """What ``until_disconnect`` needs of a request: its scope and receive (a ``Call``)."""

    @property
    def scope(self) -> Scope: ...

    @property
    def receive(self) -> Receive: ...


class ConnectionWatch:
    """One connection's watch for a client that leaves, kept by the server's protocol.

    The request task waiting on its upstream registers here (``until_disconnect``); the
    protocol's ``connection_lost`` cancels it at once while its answer is not complete. This
    replaces a watcher task a request (about 40 k instructions of a gateway request: the
    task, its steps, the event it waits on), which any other ASGI server still gets."""

    __slots__ = ("_cancelled", "_waiting", "open")

    def __init__(self) -> None:
        #: False once the connection is lost: a call starting later is not made.
        self.open = True
        self._waiting: asyncio.Task[Any] | None = None
        self._cancelled: asyncio.Task[Any] | None = None

    def wait(self, task: asyncio.Task[Any]) -> None:
        """Cancel ``task`` when the connection is lost (the caller checks ``open`` first)."""
        self._waiting = task

    def done(self, task: asyncio.Task[Any]) -> bool:
        """Stop watching for ``task``; whether the watch cancelled it."""
        if self._waiting is task:
            self._waiting = None
        if self._cancelled is task:
            self._cancelled = None
            return True
        return False

    def lost(self, answered: bool) -> None:
        """The connection is gone; ``answered``: the current request's answer was complete
        (its task is not cancelled then: it is only finishing)."""
        self.open = False
        if self._waiting is not None and not answered:
            self._cancel()

    def _cancel(self) -> None:
        task = self._waiting
        assert task is not None
        self._waiting = None
        self._cancelled = task
        task.cancel()


async def until_disconnect(exchange: Exchange, work: Awaitable[T]) -> T:
    """Run ``work`` in this task; cancel it at once if the client disconnects
    (``ClientDisconnected``).

    ``work`` runs in the caller's task, so a cancellation from elsewhere (server shutdown)
    reaches it directly and it unwinds (a stream sends its last, error, event: chat.py)
    before this returns, and no task of its own keeps its error alive. The server's own
    protocols notice the leaving client (``ConnectionWatch``); under any other ASGI server a
    watcher task a request waits for ``http.disconnect``.
    """
    task = asyncio.current_task()
    assert task is not None
    extensions = exchange.scope.get("extensions")
    watch: ConnectionWatch | None = extensions.get(CONNECTION_WATCH) if extensions else None
    if watch is None:
        return await _until_disconnect_message(exchange.receive, task, work)
    if not watch.open:  # the client left before this call began: it is not made at all
        _drop(work)
        raise ClientDisconnected
    watch.wait(task)
    try:
        result = await work
    except BaseException:
        if watch.done(task):
            _left(task)
        raise  # the work's own error, or a cancellation from elsewhere
    if watch.done(task):  # cancelled, but the work swallowed it: the client left all the same
        _left(task)
    return result


def _drop(work: Awaitable[Any]) -> None:
    """Let go of work never awaited (a coroutine closed, a future cancelled), without the
    "never awaited" warning."""
    if isinstance(work, Coroutine):
        work.close()
    elif isinstance(work, asyncio.Future):
        work.cancel()


def _left(task: asyncio.Task[Any]) -> NoReturn:
    """The client left and its request's task was cancelled for it: whatever the work raised
    as it was cancelled no longer matters."""
    uncancel = getattr(task, "uncancel", None)  # Python 3.11+
    if uncancel is not None:
        uncancel()
    raise ClientDisconnected from None


async def _disconnected(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


#: Watchers of requests still running or whose answer is not complete yet.
_WATCHERS: set[asyncio.Future[None]] = set()


async def _until_disconnect_message(
    receive: Receive, task: asyncio.Task[Any], work: Awaitable[T]
) -> T:
    """``until_disconnect`` under a server that offers no ``ConnectionWatch``.

    The body must have been read: from then on ``receive()`` only reports the disconnect,
    or, once the answer is complete, returns at once (the ASGI rule), which ends the watcher
    by itself: it is never cancelled, which would cost more than the rest of it. One watcher
    task a request.
    """
    gone = finished = False

    async def watch() -> None:
        nonlocal gone
        await _disconnected(receive)
        if not finished:  # the watcher runs only while ``work`` waits: that wait is cancelled
            gone = True
            task.cancel()

    watcher = asyncio.ensure_future(watch())
    _WATCHERS.add(watcher)  # the loop keeps only a weak reference to a task
    watcher.add_done_callback(_WATCHERS.discard)
    try:
        return await work
    except BaseException:
        if not gone:
            raise  # the work's own error, or a cancellation from elsewhere
        _left(task)
    finally:
        finished = True
