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


def __getattr__(name: str) -> Any:
    if name == "Provider":
        # The provider classes under the seed project's names (``polymux.Provider.Gemini``),
        # a module as in that project. The base class of providers is
        # ``polymux.providers.Provider``: one name cannot be both, because importing the
        # submodule sets this attribute to it.
        return importlib.import_module(".Provider", __name__)
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'polymux' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
