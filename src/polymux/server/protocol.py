"""uvicorn's HTTP protocols with OpenAI-shaped errors for requests its parser rejects.

A request that is not HTTP at all (a bad request line, an invalid header, a malformed chunked
body) never reaches the app: uvicorn answers ``400 Invalid HTTP request received.`` in plain
text. These subclasses answer the same status as ``{"error": {...}}`` JSON, like every other
answer of the gateway. What stays uvicorn's own plain text: its ``500 Internal Server Error``
(only if the app itself raised, which it does not) and the refusal of a WebSocket upgrade.
"""

from __future__ import annotations

from typing import Any

import orjson

from .errormap import error_body

__all__ = ["protocol_class"]


def _json_400(msg: str) -> bytes:
    return orjson.dumps(error_body(msg, "invalid_request_error", "invalid_http_request"))


def protocol_class(kind: str) -> Any:
    """The protocol class for uvicorn's ``http=`` option ("httptools" or "h11")."""
    if kind == "httptools":
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        class JSONHttpToolsProtocol(HttpToolsProtocol):
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

    class JSONH11Protocol(H11Protocol):
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
