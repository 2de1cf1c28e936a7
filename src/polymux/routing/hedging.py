"""Hedged starts: when the provider being tried has produced no content after ``delay``
seconds, start the next one as well and keep whichever delivers content first.

Each attempt runs in its own task until its first content (``Router._attempt`` holds the
stream open there); the winner's stream is then read by the caller. Every other attempt is
cancelled, which closes its stream and with it its upstream connection, and awaited, so no
task outlives the race. A failed attempt starts the next one at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from ..errors import AllProvidersFailedError
from .fallback import Selection

__all__ = ["race"]

Attempt = Callable[[], Awaitable[Selection]]


async def race(
    attempts: Sequence[tuple[str, Attempt]],
    delay: float,
    keep_going: Callable[[BaseException], bool],
    errors: list[tuple[str, BaseException]],
) -> Selection:
    """The first attempt to deliver content. Failures for which ``keep_going`` is true are
    appended to ``errors`` (in the order of ``attempts``) and the race goes on; any other
    failure ends it. All failed: ``AllProvidersFailedError``."""
    running: dict[asyncio.Future[Selection], int] = {}
    failed: dict[int, BaseException] = {}
    launched = 0

    def launch() -> None:
        nonlocal launched
        _, attempt = attempts[launched]
        running[asyncio.ensure_future(attempt())] = launched
        launched += 1

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
            won: dict[int, Selection] = {}
            for task in done:
                index = running.pop(task)
                exc = task.exception()
                if exc is None:
                    won[index] = task.result()
                    continue
                if not keep_going(exc):
                    for selection in won.values():
                        await selection.aclose()
                    raise exc
                failed[index] = exc
                if launched < len(attempts):
                    launch()
            if won:  # several finished together: keep the one earliest in the list
                first = min(won)
                for index, selection in won.items():
                    if index != first:
                        await selection.aclose()
                return won[first]
        raise AllProvidersFailedError([(attempts[i][0], failed[i]) for i in sorted(failed)])
    finally:
        errors.extend((attempts[i][0], failed[i]) for i in sorted(failed))
        await _cancel_all(running)


async def _cancel_all(running: dict[asyncio.Future[Selection], int]) -> None:
    """Cancel the losers and wait for them: their streams close as they unwind."""
    if not running:
        return
    for task in running:
        task.cancel()
    await asyncio.wait(set(running))
    for task in running:
        if not task.cancelled() and task.exception() is None:
            await task.result().aclose()  # it won just as it was cancelled
