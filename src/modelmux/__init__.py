"""modelmux: one async, OpenAI-shaped client for every chat and image model.

``import modelmux`` is light: it loads nothing heavy and touches no network or file. The
names below are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .client import AsyncChatStream, AsyncClient, ChatStream, Client
    from .errors import (
        AllProvidersFailedError,
        APIConnectionError,
        APIError,
        APIResponseValidationError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        ConfigurationError,
        ConflictError,
        InternalServerError,
        InvalidRequestError,
        MissingCredentialsError,
        ModelmuxError,
        NoProviderForModelError,
        NotFoundError,
        PermissionDeniedError,
        RateLimitError,
        StructuredOutputError,
        UnknownProviderError,
        UnprocessableEntityError,
        UnsupportedCapabilityError,
    )
    from .providers.base import Capabilities, GeneratedImage
    from .types.request import Timeout

_ERRORS = (
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AllProvidersFailedError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ConflictError",
    "InternalServerError",
    "InvalidRequestError",
    "MissingCredentialsError",
    "ModelmuxError",
    "NoProviderForModelError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "StructuredOutputError",
    "UnknownProviderError",
    "UnprocessableEntityError",
    "UnsupportedCapabilityError",
)
_LAZY = {
    "AsyncClient": "client",
    "Client": "client",
    "AsyncChatStream": "client",
    "ChatStream": "client",
    "Capabilities": "providers.base",
    "GeneratedImage": "providers.base",
    "Timeout": "types.request",
    **dict.fromkeys(_ERRORS, "errors"),
}

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AllProvidersFailedError",
    "AsyncChatStream",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "Capabilities",
    "ChatStream",
    "Client",
    "ConfigurationError",
    "ConflictError",
    "GeneratedImage",
    "InternalServerError",
    "InvalidRequestError",
    "MissingCredentialsError",
    "ModelmuxError",
    "NoProviderForModelError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "StructuredOutputError",
    "Timeout",
    "UnknownProviderError",
    "UnprocessableEntityError",
    "UnsupportedCapabilityError",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'modelmux' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
