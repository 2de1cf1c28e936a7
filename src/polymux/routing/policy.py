"""How a list of providers is tried: ``RoutingOptions``, and the seed's project's list types
``IterListProvider`` / ``RetryProvider``, which carry such options with their providers::

    client = AsyncClient(provider=RetryProvider([Groq, "together", "openrouter"], shuffle=False))
    client = AsyncClient(provider=["groq", "together"], routing=RoutingOptions(hedge_after=1.0))
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

from ..errors import ConfigurationError

__all__ = ["IterListProvider", "RetryProvider", "RoutingOptions", "split_spec"]


@dataclass(frozen=True, slots=True)
class RoutingOptions:
    """``shuffle``: try the providers in a random order (drawn anew for every call).
    ``hedge_after``: seconds; when the provider being tried has produced no content by then,
    start the next one too and keep whichever answers first (None: no hedging).
    ``fallback_on_status``: HTTP statuses that also move on to the next provider, beyond the
    always-retryable 408/409/429/5xx; e.g. ``{400, 422}`` when providers differ in what
    they accept."""

    shuffle: bool = False
    hedge_after: float | None = None
    fallback_on_status: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        if self.hedge_after is not None and (
            isinstance(self.hedge_after, bool)
            or not isinstance(self.hedge_after, (int, float))
            or self.hedge_after < 0
        ):
            raise ConfigurationError(
                f"hedge_after must be a number of seconds >= 0, got {self.hedge_after!r}"
            )
        statuses = frozenset(self.fallback_on_status)
        if not all(isinstance(s, int) and 100 <= s <= 599 for s in statuses):
            raise ConfigurationError("fallback_on_status must hold HTTP status codes")
        object.__setattr__(self, "fallback_on_status", statuses)


DEFAULT_ROUTING = RoutingOptions()


class IterListProvider(Sequence[Any]):
    """Providers tried one after another (shuffled first when ``shuffle``), as in the seed's
    project. It is a sequence of provider specs, so it goes wherever a list of providers
    does; the client also reads its options."""

    def __init__(
        self,
        providers: Iterable[Any],
        shuffle: bool = True,
        *,
        hedge_after: float | None = None,
        fallback_on_status: Iterable[int] = (),
    ) -> None:
        self.providers = list(providers)
        if not self.providers:
            raise ConfigurationError(f"{type(self).__name__} needs at least one provider")
        self.options = RoutingOptions(
            shuffle=shuffle,
            hedge_after=hedge_after,
            fallback_on_status=frozenset(fallback_on_status),
        )

    def __repr__(self) -> str:
        names = [getattr(p, "name", None) or getattr(p, "__name__", repr(p)) for p in self]
        return f"{type(self).__name__}({names}, shuffle={self.options.shuffle})"

    @overload
    def __getitem__(self, index: int) -> Any: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Any]: ...
    def __getitem__(self, index: int | slice) -> Any:
        return self.providers[index]

    def __len__(self) -> int:
        return len(self.providers)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.providers)


class RetryProvider(IterListProvider):
    """The seed's project's name for a provider list. Each provider's own retries are the
    transport's (``max_retries``); this moves on to the next provider when they give up."""


def split_spec(spec: Any, default: RoutingOptions | None) -> tuple[Any, RoutingOptions | None]:
    """A provider spec without its list options, and the options that apply to it."""
    # A list (the gateway's routes, on every call) is told apart by a check in C before
    # the ABC's instance check, a Python-level call, that an IterListProvider needs.
    if not isinstance(spec, list) and isinstance(spec, IterListProvider):
        return spec.providers, spec.options
    return spec, default
