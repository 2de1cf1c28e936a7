"""``GET /ready``: readiness, for load balancers and orchestrators (liveness is ``GET /health``,
models.py: 200 whenever the process serves requests at all).

``/ready`` runs every registered readiness check at once, each within ``CHECK_TIMEOUT``
seconds, and answers 200 when all pass, else 503 naming the ones that failed: a load balancer
then sends traffic elsewhere while, say, the database is unreachable or every upstream is
cooling down.

A check is a named ``async () -> str | None``: None when ready, else a short reason, which is
shown to the caller (the route is public: say nothing secret in it). A check that raises
or overruns its time fails with the exception's type only; its message goes to the log.
Other parts of the gateway (Redis, Postgres) add theirs with ``Readiness.add``.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from .asgi import send_json

if TYPE_CHECKING:
    from ..routing.health import HealthStore
    from .app import Call, Gateway

__all__ = [
    "CHECK_TIMEOUT",
    "Check",
    "Readiness",
    "handle_ready",
    "sqlite_check",
    "upstreams_check",
]

log = logging.getLogger("polymux.server")

#: None when ready, else why not.
Check = Callable[[], Awaitable[str | None]]
#: Seconds a check may take; a slower one counts as failed (a probe must answer quickly).
CHECK_TIMEOUT = 2.0


class Readiness:
    """The named readiness checks of one gateway."""

    def __init__(self, timeout: float = CHECK_TIMEOUT) -> None:
        self.timeout = timeout
        self._checks: dict[str, tuple[Check, float]] = {}
        self._failing: set[str] = set()

    def add(self, name: str, check: Check, timeout: float | None = None) -> None:
        """Register ``check`` under ``name`` (replacing one of that name); ``timeout``: its
        own time limit in seconds (default: ``self.timeout``)."""
        self._checks[name] = (check, self.timeout if timeout is None else timeout)

    @property
    def names(self) -> list[str]:
        return list(self._checks)

    async def run(self) -> dict[str, str | None]:
        """Every check's outcome by name: None (ready) or the reason it is not."""
        names = list(self._checks)
        outcomes = await asyncio.gather(*(self._run_one(n) for n in names))
        results = dict(zip(names, outcomes))
        for name, reason in results.items():
            # Logged when a check starts or stops failing, not on every probe.
            if reason is not None and name not in self._failing:
                self._failing.add(name)
                log.warning("readiness check %s fails: %s", name, reason)
            elif reason is None and name in self._failing:
                self._failing.discard(name)
                log.warning("readiness check %s passes again", name)
        return results

    async def _run_one(self, name: str) -> str | None:
        check, timeout = self._checks[name]
        try:
            return await asyncio.wait_for(check(), timeout)
        except (asyncio.TimeoutError, TimeoutError):
            return f"no answer within {timeout:g} s"
        except Exception as exc:
            log.warning("readiness check %s raised %s: %s", name, type(exc).__name__, exc)
            return f"failed ({type(exc).__name__})"


def sqlite_check(path: Path) -> Check:
    """The SQLite database can be opened and its keys table read."""

    async def database() -> str | None:
        return await asyncio.to_thread(_read_sqlite, path)

    return database


def _read_sqlite(path: Path) -> str | None:
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=1.0)
        try:
            connection.execute("SELECT 1 FROM keys LIMIT 1").fetchall()
        finally:
            connection.close()
    except sqlite3.Error as exc:
        return f"the database cannot be read: {exc}"
    return None


def upstreams_check(health: HealthStore, providers: Iterable[str]) -> Check:
    """At least one upstream is not cooling down (its circuit breaker closed or half-open)."""
    names = tuple(providers)

    async def upstreams() -> str | None:
        waits = [(name, await health.cooling_for(name)) for name in names]
        if not waits or any(seconds <= 0 for _, seconds in waits):
            return None
        cooling = ", ".join(f"{name} for {seconds:.0f} s" for name, seconds in waits)
        return f"every upstream is cooling down: {cooling}"

    return upstreams


async def handle_ready(gateway: Gateway, call: Call) -> None:
    results = await gateway.readiness.run()
    ready = all(reason is None for reason in results.values())
    checks = {name: reason or "ok" for name, reason in results.items()}
    body = {"status": "ready" if ready else "not_ready", "checks": checks}
    await send_json(call.send, 200 if ready else 503, body)
