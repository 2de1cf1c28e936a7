"""g4f's module path for the provider lists (``from g4f.providers.retry_provider import
IterListProvider``); they live in ``polymux.routing.policy``."""

from ..routing.policy import IterListProvider, RetryProvider

__all__ = ["IterListProvider", "RetryProvider"]
