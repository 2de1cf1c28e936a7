"""The transport interface every HTTP provider sends through.

One implementation ships (``HttpTransport``, aiohttp); tests and users may inject another
(``AsyncClient(transport=...)``). Retries, timeouts, size limits and the translation of
failures into polymux's error tree are the transport's job, so providers only speak their
wire format.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..errors import APIResponseValidationError, ConfigurationError
from ..types.request import CallOptions
from .redact import redact

__all__ = [
    "ByteStream",
    "HttpRequest",
    "HttpResponse",
    "StreamedBody",
    "Transport",
    "require_transport",
]


class StreamedBody(ABC):
    """A request body sent in pieces rather than held whole (an upload read from disk as it
    is sent): ``size`` bytes in all, its ``content_type`` the header to send with it."""

    content_type: str
    size: int

    @abstractmethod
    def chunks(self) -> AsyncIterator[bytes | memoryview]:
        """The body from its start (slices of a caller's bytes as memoryviews, uncopied);
        called afresh for each attempt (a retry resends it)."""


@dataclass(slots=True, kw_only=True)
class HttpRequest:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    #: JSON body; serialized by the transport.
    json: Any = None
    #: Raw body, when not JSON: bytes, or an upload streamed as it is sent.
    body: bytes | StreamedBody | None = None
    options: CallOptions = field(default_factory=CallOptions)
    #: Provider name, for error messages.
    provider: str | None = None
    #: Follow redirects; off where each hop must be checked first (guarded image downloads).
    follow_redirects: bool = True
    #: Connect only to public addresses, checked when the connection is made (guard.py): for
    #: URLs from untrusted input. A transport that cannot enforce it must refuse the request.
    public_only: bool = False

    def __repr__(self) -> str:  # headers hold credentials: never show them
        return f"<HttpRequest {self.method} {self.url} provider={self.provider!r}>"


@dataclass(slots=True, kw_only=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes
    provider: str | None = None

    def json(self) -> Any:
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError as exc:
            snippet = redact(self.body[:200].decode("utf-8", "replace"))
            raise APIResponseValidationError(
                f"expected a JSON body, got {snippet!r}", provider=self.provider, body=snippet
            ) from exc


class ByteStream(ABC):
    """An open streamed response whose status was a success."""

    status: int
    headers: Mapping[str, str]

    @abstractmethod
    def iter_bytes(self) -> AsyncIterator[bytes]:
        """The body as it arrives, in whatever pieces the network delivers."""

    async def read(self, limit: int, provider: str | None = None) -> bytes:
        """The rest of the body, whole; more than ``limit`` bytes is a validation error."""
        parts: list[bytes] = []
        size = 0
        async for piece in self.iter_bytes():
            size += len(piece)
            if size > limit:
                raise APIResponseValidationError(
                    f"the answer exceeds {limit} bytes", provider=provider
                )
            parts.append(piece)
        return b"".join(parts)


class Transport(ABC):
    @abstractmethod
    async def request(self, request: HttpRequest, *, max_bytes: int | None = None) -> HttpResponse:
        """Send, retrying as the policy allows; return a success response with its whole body.

        Error statuses raise ``APIStatusError`` subclasses; failures raise
        ``APIConnectionError`` / ``APITimeoutError``.
        """

    @abstractmethod
    def stream(self, request: HttpRequest) -> AbstractAsyncContextManager[ByteStream]:
        """Open a streamed response (retrying only the opening). Leaving the context closes it."""

    @abstractmethod
    async def aclose(self) -> None:
        """Close pooled connections."""


def require_transport(transport: Transport | None) -> Transport:
    """The request's transport; a request built by hand, outside a client, has none."""
    if transport is None:
        raise ConfigurationError("this request has no transport; send it through a polymux client")
    return transport
