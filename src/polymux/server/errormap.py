"""polymux's exception tree -> HTTP status + OpenAI error body, in one table.

Every error the gateway answers has the shape OpenAI's API uses, so the official SDKs raise
their usual exception types: ``{"error": {"message", "type", "param", "code"}}``.

    InvalidRequestError (bad input)           400 invalid_request_error
    UnsupportedCapabilityError                400 invalid_request_error / unsupported_capability
    upstream 400/404/409/422/429              the same status (429 keeps Retry-After), with
                                              the upstream's code and param
    upstream 401/403                          502: the gateway's own credentials upstream
                                              were refused, not the caller's (message
                                              redacted by the transport)
    NoProviderForModelError, UnknownProvider  404 not_found_error / model_not_found
    upstream 5xx, connection, bad answers     502 upstream_error
    APITimeoutError                           504 timeout
    ConfigurationError (gateway set-up)       500 server_error
    AllProvidersFailedError                   the common status of its errors, else 502
"""

from __future__ import annotations

from typing import Any

from ..errors import (
    AllProvidersFailedError,
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    ConfigurationError,
    InvalidRequestError,
    NoProviderForModelError,
    RateLimitError,
    UnknownProviderError,
    UnsupportedCapabilityError,
)

__all__ = ["SHUTDOWN_MESSAGE", "GatewayHTTPError", "error_body", "error_type", "map_error"]

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "conflict_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    502: "upstream_error",
    503: "server_error",
    504: "timeout",
}
_PASS_THROUGH = frozenset({400, 404, 409, 422, 429})
SHUTDOWN_MESSAGE = "the gateway stopped before the answer was complete"


class GatewayHTTPError(Exception):
    """An answer the gateway itself gives (bad JSON, missing key, body too large ...).

    Internal to the server package: it never escapes the ASGI app.
    """

    def __init__(
        self,
        status: int,
        message: str,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type or _TYPES.get(status, "server_error")
        self.code = code
        self.param = param
        self.headers = headers or {}


def error_type(status: int) -> str:
    """The OpenAI error type the gateway answers with ``status``."""
    return _TYPES.get(status, "server_error")


def error_body(
    message: str, type: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def _status_of(exc: BaseException) -> int:
    if isinstance(exc, GatewayHTTPError):
        return exc.status
    if isinstance(exc, InvalidRequestError):
        return 400
    if isinstance(exc, (NoProviderForModelError, UnknownProviderError)):
        return 404
    if isinstance(exc, ConfigurationError):
        return 500
    if isinstance(exc, APIStatusError):
        if exc.status_code in _PASS_THROUGH:
            return exc.status_code
        return 504 if exc.status_code == 408 else 502
    if isinstance(exc, APITimeoutError):
        return 504
    if isinstance(exc, (APIConnectionError, APIResponseValidationError)):
        return 502
    if isinstance(exc, AllProvidersFailedError):
        statuses = {_status_of(err) for err in exc.exceptions}
        return statuses.pop() if len(statuses) == 1 else 502
    return 500


def map_error(exc: BaseException) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, OpenAI-style body, extra headers) for any exception a handler raised."""
    if isinstance(exc, GatewayHTTPError):
        return exc.status, error_body(exc.message, exc.type, exc.code, exc.param), exc.headers
    status = _status_of(exc)
    headers: dict[str, str] = {}
    code: str | None = None
    param: str | None = None
    if isinstance(exc, UnsupportedCapabilityError):
        code = "unsupported_capability"
    elif isinstance(exc, (NoProviderForModelError, UnknownProviderError)):
        code = "model_not_found"
    elif isinstance(exc, APITimeoutError):
        code = f"{exc.limit}_timeout"
    elif isinstance(exc, APIStatusError):
        code, param = _upstream_fields(exc)
    rate_limited = exc if isinstance(exc, RateLimitError) else None
    if isinstance(exc, AllProvidersFailedError):
        last = exc.exceptions[-1] if exc.errors else None
        rate_limited = last if isinstance(last, RateLimitError) else None
    if status == 429 and rate_limited is not None and rate_limited.retry_after is not None:
        headers["retry-after"] = str(max(0, round(rate_limited.retry_after)))
    if status == 500 and not isinstance(exc, ConfigurationError):
        # Not one of ours: do not leak internals; the traceback goes to the server log.
        message = "internal error in the gateway"
    else:
        message = str(exc) if isinstance(exc, APIStatusError) else getattr(exc, "message", str(exc))
    if isinstance(exc, APIStatusError) and exc.status_code in (401, 403):
        message = f"the upstream refused the gateway's credentials: {message}"
    return status, error_body(message, _TYPES.get(status, "server_error"), code, param), headers


def _upstream_fields(exc: APIStatusError) -> tuple[str, str | None]:
    """The upstream's own ``code`` and ``param`` (clients branch on them, e.g.
    ``context_length_exceeded``), else ``upstream_<status>`` and None."""
    body = exc.body
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return f"upstream_{exc.status_code}", None
    code, param = error.get("code"), error.get("param")
    return (
        code if isinstance(code, str) and 0 < len(code) <= 100 else f"upstream_{exc.status_code}",
        param if isinstance(param, str) and len(param) <= 100 else None,
    )
