"""Hedged starts: when the provider being tried has not succeeded after ``delay`` seconds,
start the next one as well and keep whichever succeeds first.

Each attempt runs in its own task until it succeeds (for chat: until its first content, with
its stream held open). Every other attempt is cancelled, which closes its stream and with it
its upstream connection, and awaited, so no task outlives the race; an attempt that succeeded
but lost is handed to ``discard``. A failed attempt starts the next one at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from ..errors import AllProvidersFailedError

__all__ = ["race"]

T = TypeVar("T")


async def race(
    attempts: Sequence[tuple[str, Callable[[], Awaitable[T]]]],
    delay: float,
    keep_going: Callable[[BaseException], bool],
    errors: list[tuple[str, BaseException]],
    discard: Callable[[T], Awaitable[None]] | None = None,
) -> tuple[int, T]:
    """The index and result of the first attempt to succeed. Failures for which
    ``keep_going`` is true are appended to ``errors`` (in the order of ``attempts``) and the
    race goes on; any other failure ends it. All failed: ``AllProvidersFailedError``."""
    running: dict[asyncio.Future[T], int] = {}
    failed: dict[int, BaseException] = {}
    launched = 0

    def launch() -> None:
        nonlocal launched
        _, attempt = attempts[launched]
        running[asyncio.ensure_future(attempt())] = launched
        launched += 1

    async def drop(value: T) -> None:
        if discard is not None:
            await discard(value)

    try:
        launch()
        while running:
            more = launched < len(attempts)
            done, _ = await asyncio.wait(
                set(running), timeout=delay if more else None, return_when=asyncio.FIRST_COMPLETED
            )
            if not done:  # nobody answered in time: hedge with the next provider
                launch()
                continue
            won: dict[int, T] = {}
            for task in done:
                index = running.pop(task)
                exc = task.exception()
                if exc is None:
                    won[index] = task.result()
                    continue
                if not keep_going(exc):
                    for value in won.values():
                        await drop(value)
                    raise exc
                failed[index] = exc
                if launched < len(attempts):
                    launch()
            if won:  # several finished together: keep the one earliest in the list
                first = min(won)
                for index, value in won.items():
                    if index != first:
                        await drop(value)
                return first, won[first]
        raise AllProvidersFailedError([(attempts[i][0], failed[i]) for i in sorted(failed)])
    finally:
        errors.extend((attempts[i][0], failed[i]) for i in sorted(failed))
        await _cancel_all(running, drop)


async def _cancel_all(
    running: dict[asyncio.Future[T], int], drop: Callable[[T], Awaitable[None]]
) -> None:
    """Cancel the losers and wait for them: their streams close as they unwind."""
    if not running:
        return
    for task in running:
        task.cancel()
    await asyncio.wait(set(running))
    for task in running:
        if not task.cancelled() and task.exception() is None:
            await drop(task.result())  # it won just as it was cancelled
