"""Failures -> polymux's error tree, in one place for every HTTP provider.

Error bodies come in every shape hosts send: ``{"error": {...}}``, a flat ``{"message": ...}``,
a string ``error``, a list (Gemini has sent ``[{"error": ...}]``) or plain text. Only a bounded
prefix of a body is ever read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import orjson

from ..errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    describe_body,
    status_error,
)
from .redact import redact, redact_bytes, redact_value
from .retry import parse_retry_after

__all__ = [
    "MAX_ERROR_BODY",
    "embedded_error",
    "error_from_status",
    "parse_error_body",
    "stray_error",
    "translate_exception",
]

#: Most bytes of an error body read and kept.
MAX_ERROR_BODY = 64 * 1024


def parse_error_body(raw: bytes) -> Any:
    """The decoded JSON of an error body, or its text when it is not JSON."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace").strip()
    if isinstance(body, list) and body and isinstance(body[0], Mapping):
        body = body[0]
    return body


def embedded_error(
    payload: Any, provider: str | None, secrets: tuple[str, ...] = ()
) -> APIError | None:
    """The typed error of an ``{"error": ...}`` body that arrived where an answer was expected
    (a 200 body, a stream event, an NDJSON line; also list-wrapped, as Gemini sends it), else
    None. A numeric ``code`` that is an HTTP status picks the error class. Redacted
    (redact.py), like every error built from upstream text."""
    if isinstance(payload, list) and payload and isinstance(payload[0], Mapping):
        payload = payload[0]
    if not isinstance(payload, Mapping):
        return None
    error = payload.get("error")
    if not error:
        return None
    payload = redact_value(payload, secrets)
    error = payload.get("error")
    message = describe_body(payload)
    code = error.get("code") if isinstance(error, Mapping) else None
    if not isinstance(code, int) and isinstance(error, Mapping):
        code = error.get("status_code")  # Groq: a word in "code", the status beside it
    if isinstance(code, int) and 400 <= code <= 599:
        return status_error(code, message, provider=provider, body=dict(payload))
    return APIError(message, provider=provider, body=dict(payload))


def stray_error(
    lines: list[bytes], provider: str | None, secrets: tuple[str, ...] = ()
) -> APIError | None:
    """The typed error of a bare JSON error object a host wrote into a stream outside its
    framing (Gemini, spread over several lines when a stream fails), else None."""
    if not lines:
        return None
    try:
        payload = orjson.loads(b"\n".join(lines))
    except orjson.JSONDecodeError:
        return None
    return embedded_error(payload, provider, secrets)


#: Statuses that say our credentials were refused: their bodies are never kept verbatim.
_CREDENTIAL_REFUSALS = frozenset({401, 403})
#: Longest message kept from a 401/403 body.
_REFUSAL_MESSAGE = 300


def error_from_status(
    status: int,
    headers: Mapping[str, str],
    raw: bytes,
    provider: str | None,
    secrets: tuple[str, ...] = (),
) -> APIStatusError:
    """The typed error of an HTTP error answer. The body is redacted first (redact.py):
    ``secrets`` are the credentials the request carried. A 401/403 keeps only a short,
    redacted message, not its body."""
    body = parse_error_body(redact_bytes(raw, secrets))
    message = describe_body(body) if body else f"HTTP {status} with an empty body"
    message = redact(message, secrets)  # a secret split by JSON escapes, now joined
    if status in _CREDENTIAL_REFUSALS:
        message = message[:_REFUSAL_MESSAGE]
        body = {"error": {"message": message, **_short_fields(body)}}
    return status_error(
        status,
        message,
        provider=provider,
        body=body,
        headers=headers,
        retry_after=parse_retry_after(headers),
    )


def _short_fields(body: Any) -> dict[str, str]:
    """``type``, ``code`` and ``param`` of an error body, when they are short strings."""
    error = body.get("error") if isinstance(body, Mapping) else None
    if not isinstance(error, Mapping):
        return {}
    return {
        k: v
        for k in ("type", "code", "param")
        if isinstance(v := error.get(k), str) and len(v) <= 100
    }


def translate_exception(
    exc: BaseException,
    provider: str | None,
    *,
    limit: str | None = None,
    seconds: float | None = None,
) -> APIError:
    """A foreign exception from the HTTP stack -> an ``APIConnectionError`` subclass."""
    if isinstance(exc, APIError):
        return exc
    import aiohttp

    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        limit = "connect"
    elif isinstance(exc, aiohttp.SocketTimeoutError):
        limit = "idle"
    if limit is not None or isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        which = limit or "total"
        after = f" after {seconds:g} s" if seconds else ""
        return APITimeoutError(
            f"timed out: the {which.replace('_', ' ')} time limit was hit{after}",
            limit=which,
            seconds=seconds,
            provider=provider,
        )
    if isinstance(exc, aiohttp.InvalidURL):
        return APIConnectionError(f"invalid URL {exc}", provider=provider)
    if isinstance(exc, aiohttp.ClientPayloadError):
        return APIConnectionError(
            f"the connection broke while reading the answer: {exc}", provider=provider
        )
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return APIConnectionError(
            "the server closed the connection without answering", provider=provider
        )
    if isinstance(exc, (aiohttp.ClientError, OSError)):
        return APIConnectionError(
            f"connection failed: {type(exc).__name__}: {exc}", provider=provider
        )
    raise TypeError(f"not a transport failure: {exc!r}")  # pragma: no cover
