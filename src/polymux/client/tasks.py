"""Running a call: through the router's one fallback loop, its upstream requests side by
side."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ..providers.base import Provider

if TYPE_CHECKING:
    from ..routing.policy import RoutingOptions
    from ..routing.router import Router

__all__ = ["all_or_none", "run_operation"]

T = TypeVar("T")


async def run_operation(
    router: Router,
    providers: Sequence[Provider],
    call: Callable[[Provider], Awaitable[T]],
    *,
    total: float | None,
    options: RoutingOptions | None = None,
) -> tuple[Provider, T]:
    """A call whose whole result is in hand when it returns (embeddings, audio, moderation,
    image edits), through ``Router.first``, the one fallback loop of chat and images: order,
    cooldowns, health and the total deadline. The provider that answered is then settled
    as a success (nothing of its answer is left to break off)."""
    provider, result = await router.first(
        providers, lambda provider, _deadline: call(provider), total=total, options=options
    )
    await router.settle(provider.name)
    return provider, result


async def all_or_none(work: Sequence[Coroutine[Any, Any, T]]) -> list[T]:
    """Every result in order; the first failure cancels the rest (their upstream requests
    are abandoned, not left running for an answer nobody reads) and is raised."""
    if len(work) == 1:
        return [await work[0]]
    tasks = [asyncio.ensure_future(item) for item in work]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
