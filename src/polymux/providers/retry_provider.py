"""g4f's module path for the provider lists (``from g4f.providers.retry_provider import
IterListProvider``); they live in ``polymux.routing.policy``, a layer above providers.

A facade for g4f users' imports only: the names are looked up on first use, so the providers
layer itself never imports routing (no cycle between the two).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..routing.policy import IterListProvider, RetryProvider

__all__ = ["IterListProvider", "RetryProvider"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("polymux.routing.policy"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
