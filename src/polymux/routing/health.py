"""Provider health: cooldowns after rate limits and repeated failures (a circuit breaker).

A provider is *closed* (tried normally) until it answers a 429 or fails ``failure_threshold``
times in a row; it is then *open* (skipped by every request of the client) for the
server's retry-after, or ``cooldown`` seconds; then *half-open*: one request may probe it,
the others still skip it. The probe's success closes it; its failure opens it again.

The state lives behind ``HealthStore``, an ABC with async methods, so a gateway running
several processes can keep it somewhere shared; ``InMemoryHealthStore`` is the default.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["HealthStore", "InMemoryHealthStore"]


class HealthStore(ABC):
    """Where provider health is kept. Providers are identified by name."""

    @abstractmethod
    async def wait_time(self, provider: str) -> float:
        """0.0 if the provider may be tried now, else the seconds until it may.

        Returning 0.0 for a half-open provider hands this caller the probe: the caller then
        reports its outcome with ``record_success``, ``record_failure`` or ``release``.
        """

    @abstractmethod
    async def record_success(self, provider: str) -> None:
        """The provider started answering."""

    @abstractmethod
    async def record_failure(
        self, provider: str, *, rate_limited: bool = False, retry_after: float | None = None
    ) -> None:
        """The provider failed in a way that says something about its health."""

    @abstractmethod
    async def release(self, provider: str) -> None:
        """An attempt ended with no verdict (cancelled): give back a probe it may hold."""

    async def cooling_for(self, provider: str) -> float:
        """Seconds the provider is still cooling down (0.0: it may be tried, or probed), for
        readiness checks and metrics. Unlike ``wait_time`` it never hands out the half-open
        probe. A store that cannot tell answers 0.0."""
        return 0.0


@dataclass(slots=True)
class _State:
    failures: int = 0
    open_until: float = 0.0  # 0: closed
    probing_since: float | None = None


class InMemoryHealthStore(HealthStore):
    """Health of one client's providers, in this process.

    ``failure_threshold``: consecutive failures that open the breaker (0: never by count).
    ``cooldown``: how long it stays open, and after a 429 without a retry-after.
    ``max_cooldown``: cap on a server's retry-after. ``probe_timeout``: a half-open probe
    that reports nothing within this time is forgotten, so the next request may probe.
    ``clock``: monotonic seconds; tests pass a fake one.
    """

    def __init__(
        self,
        *,
        failure_threshold: int = 3,
        cooldown: float = 30.0,
        max_cooldown: float = 300.0,
        probe_timeout: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 0 or cooldown < 0 or max_cooldown < 0 or probe_timeout <= 0:
            raise ValueError("health thresholds and durations must not be negative")
        self.failure_threshold = failure_threshold
        self.cooldown = cooldown
        self.max_cooldown = max_cooldown
        self.probe_timeout = probe_timeout
        self._clock = clock
        self._states: dict[str, _State] = {}

    def __repr__(self) -> str:
        now = self._clock()
        cooling = sorted(n for n, s in self._states.items() if s.open_until > now)
        return f"<InMemoryHealthStore cooling={cooling}>"

    async def wait_time(self, provider: str) -> float:
        state = self._states.get(provider)
        if state is None or not state.open_until:
            return 0.0
        now = self._clock()
        if now < state.open_until:
            return state.open_until - now
        # Half-open: one probe at a time.
        if state.probing_since is not None and now - state.probing_since < self.probe_timeout:
            return state.probing_since + self.probe_timeout - now
        state.probing_since = now
        return 0.0

    async def cooling_for(self, provider: str) -> float:
        state = self._states.get(provider)
        if state is None:
            return 0.0
        return max(0.0, state.open_until - self._clock())

    async def record_success(self, provider: str) -> None:
        self._states.pop(provider, None)

    async def record_failure(
        self, provider: str, *, rate_limited: bool = False, retry_after: float | None = None
    ) -> None:
        state = self._states.setdefault(provider, _State())
        state.failures += 1
        half_open = state.probing_since is not None
        state.probing_since = None
        if rate_limited:
            seconds = self.cooldown if retry_after is None else min(retry_after, self.max_cooldown)
        elif half_open or (self.failure_threshold and state.failures >= self.failure_threshold):
            seconds = self.cooldown
        else:
            return
        state.open_until = max(state.open_until, self._clock() + seconds)

    async def release(self, provider: str) -> None:
        state = self._states.get(provider)
        if state is not None:
            state.probing_since = None
