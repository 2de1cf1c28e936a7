"""HTTP transport: pooled connections, retries, timeouts, SSE / NDJSON decoding."""

from .base import ByteStream, HttpRequest, HttpResponse, Transport
from .ndjson import NDJSONDecoder
from .retry import DEFAULT_RETRY, RetryPolicy
from .sse import SSEDecoder, SSEEvent

__all__ = [
    "DEFAULT_RETRY",
    "ByteStream",
    "HttpRequest",
    "HttpResponse",
    "NDJSONDecoder",
    "RetryPolicy",
    "SSEDecoder",
    "SSEEvent",
    "Transport",
]
