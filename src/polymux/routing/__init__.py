"""Which provider answers: the model registry, fallback across a list, cooldowns, limits and
hedging. ``Router`` ties them together for a client (``AsyncClient.router``).

The public names are those below (``__all__``). The modules (router, fallback, hedging, health,
limits, listing, policy, registry, usable) are the implementation: import from
``polymux.routing`` or ``polymux``, not from them.
"""

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
]
