"""Close a connection pool when its event loop ends, so that a client nobody closed (as
every g4f example leaves it) leaves no "Unclosed client session" warning and no open socket.

The hook is the event loop's own: asyncio tracks every started async generator and, when
``asyncio.run`` (or ``loop.shutdown_asyncgens()``) ends the loop, closes each one while the loop
still runs. A started generator whose ``finally`` closes the pool is therefore a cleanup step
the loop runs at its end; if the transport is dropped earlier, the loop's finalizer hook closes
it then. ``AsyncClient.close()`` stays the explicit way and makes this a no-op.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from typing import Any

__all__ = ["close_with_loop"]


async def _closer(session: Any) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        if not session.closed:
            await session.close()


def close_with_loop(session: Any) -> AsyncGenerator[None, None]:
    """Start (without awaiting: it yields at once) a generator that closes ``session`` when
    the running loop shuts down its async generators. Keep a reference to it; ``aclose()`` it
    to close the session earlier."""
    generator = _closer(session)
    # The loop's first-iteration hook registers the generator here (asend() calls it); it
    # stops at its yield at once, which ends this first step with StopIteration.
    with contextlib.suppress(StopIteration):
        generator.asend(None).send(None)
    return generator
