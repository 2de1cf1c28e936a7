"""Which provider answers: the model registry, fallback across a list, cooldowns, limits and
hedging. ``Router`` ties them together for a client."""

from .fallback import Selection, is_retryable
from .health import HealthStore, InMemoryHealthStore
from .limits import ConcurrencyLimits
from .policy import IterListProvider, RetryProvider, RoutingOptions
from .registry import ModelEntry, ModelRegistry
from .router import Router

__all__ = [
    "ConcurrencyLimits",
    "HealthStore",
    "InMemoryHealthStore",
    "IterListProvider",
    "ModelEntry",
    "ModelRegistry",
    "RetryProvider",
    "Router",
    "RoutingOptions",
    "Selection",
    "is_retryable",
]
