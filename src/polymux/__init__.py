"""polymux: one async, OpenAI-shaped client for every chat and image model.

``import polymux`` is light: it loads the exception tree (standard library only) and nothing
else; it touches no network or file. The other names below are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__ as __version__
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
    EmptyResponseError,
    InternalServerError,
    InvalidRequestError,
    MissingCredentialsError,
    NoProviderForModelError,
    NotFoundError,
    PermissionDeniedError,
    PolymuxError,
    ProviderCooldownError,
    ProviderError,
    RateLimitError,
    StructuredOutputError,
    UnknownProviderError,
    UnprocessableEntityError,
    UnsupportedCapabilityError,
)

if TYPE_CHECKING:
    from . import Provider
    from .chat_completion import ChatCompletion
    from .client import AsyncChatStream, AsyncClient, ChatStream, Client
    from .providers.base import Capabilities, GeneratedImage
    from .routing.policy import IterListProvider, RetryProvider, RoutingOptions
    from .types.request import Timeout

# Name -> module under polymux, imported on first use.
_LAZY = {
    "AsyncClient": "client",
    "Client": "client",
    "AsyncChatStream": "client",
    "ChatStream": "client",
    "Capabilities": "providers.base",
    "GeneratedImage": "providers.base",
    "ChatCompletion": "chat_completion",
    "IterListProvider": "routing.policy",
    "RetryProvider": "routing.policy",
    "RoutingOptions": "routing.policy",
    "Timeout": "types.request",
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
    "ChatCompletion",
    "ChatStream",
    "Client",
    "ConfigurationError",
    "ConflictError",
    "EmptyResponseError",
    "GeneratedImage",
    "InternalServerError",
    "InvalidRequestError",
    "IterListProvider",
    "MissingCredentialsError",
    "NoProviderForModelError",
    "NotFoundError",
    "PermissionDeniedError",
    "PolymuxError",
    "Provider",
    "ProviderCooldownError",
    "ProviderError",
    "RateLimitError",
    "RetryProvider",
    "RoutingOptions",
    "StructuredOutputError",
    "Timeout",
    "UnknownProviderError",
    "UnprocessableEntityError",
    "UnsupportedCapabilityError",
]


#: Submodules that ``polymux.<name>`` imports on first use. ``Provider`` is the module of
#: provider classes, as ``g4f.Provider`` is (the base class is ``polymux.providers.Provider``).
_SUBMODULES = frozenset({"Provider", "models", "client", "providers", "typing", "debug"})


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'polymux' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY, *_SUBMODULES])
