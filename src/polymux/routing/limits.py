"""Per-provider concurrency limits: at most N calls in flight to one provider per client.

A streamed answer holds its slot until the stream is closed. Waiting for a slot counts
against the call's total deadline. The slots are an ``asyncio.Semaphore`` per provider by
default; ``semaphore`` makes them something else with the same methods (the gateway's are
shared by its replicas through Redis, server/shared/slots.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Protocol, Union

from ..errors import ConfigurationError

__all__ = ["ConcurrencyLimits", "LimitsSpec", "Slots"]


class Slots(Protocol):
    """What a provider's slots offer: ``asyncio.Semaphore``'s methods the router uses."""

    async def acquire(self) -> bool: ...

    def release(self) -> None: ...

    async def __aenter__(self) -> None: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


#: ``AsyncClient(concurrency=...)``: one limit for every provider, or provider name -> limit
#: with ``"*"`` as the limit of providers not named; or a ``ConcurrencyLimits``. None: no
#: limit.
LimitsSpec = Union[int, Mapping[str, int], "ConcurrencyLimits", None]


class ConcurrencyLimits:
    def __init__(
        self, spec: LimitsSpec = None, *, semaphore: Callable[[str, int], Slots] | None = None
    ) -> None:
        #: (provider name, limit) -> its slots.
        self._make: Callable[[str, int], Slots] = semaphore or _local
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
        elif isinstance(spec, ConcurrencyLimits):
            self._default, self._by_name = spec._default, dict(spec._by_name)
        elif spec is not None:
            raise ConfigurationError(
                f"concurrency must be an int or a mapping of provider name to int, "
                f"got {type(spec).__name__}"
            )
        self._semaphores: dict[str, Slots] = {}

    def __bool__(self) -> bool:
        return self._default is not None or bool(self._by_name)

    def limit(self, provider: str) -> int | None:
        return self._by_name.get(provider.lower(), self._default)

    def semaphore(self, provider: str) -> Slots | None:
        """The provider's slots, or None when it has no limit."""
        sem = self._semaphores.get(provider)
        if sem is None:
            limit = self.limit(provider)
            if limit is None:
                return None
            sem = self._semaphores[provider] = self._make(provider, limit)
        return sem


def _local(provider: str, limit: int) -> Slots:
    return asyncio.Semaphore(limit)


def _positive(what: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{what} must be a positive integer, got {value!r}")
    return value
