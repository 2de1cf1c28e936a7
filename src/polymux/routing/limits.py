"""Per-provider concurrency limits: at most N calls in flight to one provider per client.

A streamed answer holds its slot until the stream is closed. Waiting for a slot counts
against the call's total deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from ..errors import ConfigurationError

__all__ = ["ConcurrencyLimits", "LimitsSpec"]

#: ``AsyncClient(concurrency=...)``: one limit for every provider, or provider name -> limit
#: with ``"*"`` as the limit of providers not named. None: no limit.
LimitsSpec = int | Mapping[str, int] | None


class ConcurrencyLimits:
    def __init__(self, spec: LimitsSpec = None) -> None:
        self._default: int | None = None
        self._by_name: dict[str, int] = {}
        if isinstance(spec, bool):
            raise ConfigurationError("concurrency must be a positive int or a mapping")
        if isinstance(spec, int):
            self._default = _positive("concurrency", spec)
        elif isinstance(spec, Mapping):
            for name, limit in spec.items():
                if name == "*":
                    self._default = _positive("concurrency['*']", limit)
                else:
                    self._by_name[str(name).lower()] = _positive(f"concurrency[{name!r}]", limit)
        elif spec is not None:
            raise ConfigurationError(
                f"concurrency must be an int or a mapping of provider name to int, "
                f"got {type(spec).__name__}"
            )
        self._semaphores: dict[str, asyncio.Semaphore] = {}

    def __bool__(self) -> bool:
        return self._default is not None or bool(self._by_name)

    def limit(self, provider: str) -> int | None:
        return self._by_name.get(provider.lower(), self._default)

    def semaphore(self, provider: str) -> asyncio.Semaphore | None:
        """The provider's semaphore, or None when it has no limit."""
        sem = self._semaphores.get(provider)
        if sem is None:
            limit = self.limit(provider)
            if limit is None:
                return None
            sem = self._semaphores[provider] = asyncio.Semaphore(limit)
        return sem


def _positive(what: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{what} must be a positive integer, got {value!r}")
    return value
