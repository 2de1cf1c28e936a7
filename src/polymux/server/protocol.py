"""uvicorn's HTTP protocols with OpenAI-shaped errors for requests its parser rejects.

A request that is not HTTP at all (a bad request line, an invalid header, a malformed chunked
body) never reaches the app: uvicorn answers ``400 Invalid HTTP request received.`` in plain
text. These subclasses answer the same status as ``{"error": {...}}`` JSON, like every other
answer of the gateway. What stays uvicorn's own plain text: its ``500 Internal Server Error``
(only if the app itself raised, which it does not) and the refusal of a WebSocket upgrade.

They also notice a client that leaves: each connection keeps a ``ConnectionWatch``, offered
to the app in every request's scope (the ``polymux.connection_watch`` extension), and
``connection_lost`` cancels the request waiting on it (asgi.until_disconnect) while its
answer is not complete, where any other server needs a watcher task a request.
"""

from __future__ import annotations

from typing import Any

import orjson

from .asgi import CONNECTION_WATCH, ConnectionWatch, Receive, Scope, Send
from .errormap import error_body

__all__ = ["protocol_class"]


def _json_400(msg: str) -> bytes:
    return orjson.dumps(error_body(msg, "invalid_request_error", "invalid_http_request"))


class _WatchedConnection:
    """Mixin for uvicorn's HTTP protocols (one instance a connection): the connection's
    ``ConnectionWatch``, put in each request's scope and told when the connection is lost."""

    app: Any
    cycle: Any
    watch: ConnectionWatch

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self.watch = watch = ConnectionWatch()
        extensions = {CONNECTION_WATCH: watch}
        app = self.app  # the protocol hands each request to self.app

        def app_with_watch(scope: Scope, receive: Receive, send: Send) -> Any:
            # A plain function handing on the app's coroutine: no frame of its own a request.
            offered = scope.get("extensions")
            if offered is None:
                scope["extensions"] = extensions
            else:
                offered[CONNECTION_WATCH] = watch
            return app(scope, receive, send)

        self.app = app_with_watch

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)  # type: ignore[misc]
        cycle = self.cycle
        self.watch.lost(answered=cycle is not None and cycle.response_complete)


def protocol_class(kind: str) -> Any:
    """The protocol class for uvicorn's ``http=`` option ("httptools" or "h11")."""
    if kind == "httptools":
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        class JSONHttpToolsProtocol(_WatchedConnection, HttpToolsProtocol):
            def send_400_response(self, msg: str) -> None:
                body = _json_400(msg)
                self.transport.write(
                    b"HTTP/1.1 400 Bad Request\r\n"
                    b"content-type: application/json\r\n"
                    b"content-length: " + str(len(body)).encode() + b"\r\n"
                    b"connection: close\r\n\r\n" + body
                )
                self.transport.close()

        return JSONHttpToolsProtocol

    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class JSONH11Protocol(_WatchedConnection, H11Protocol):
        def send_400_response(self, msg: str) -> None:
            body = _json_400(msg)
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ]
            for event in (
                h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
                h11.Data(data=body),
                h11.EndOfMessage(),
            ):
                self.transport.write(self.conn.send(event))
            self.transport.close()

    return JSONH11Protocol
