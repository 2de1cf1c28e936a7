"""HTTP transport: pooled connections, retries, timeouts, SSE / NDJSON decoding.

The public names are those below (``__all__``): what a custom transport implements and what a
custom provider decodes with. The modules (base, http, deadline, retry, errors, guard, proxy,
sse, ndjson) are the implementation: import from ``polymux.transport``, not from them.
"""

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
