"""The one Redis client of a gateway process, and how its outages are reported.

redis-py's asyncio client keeps a connection pool and reconnects on the next command after
the server went away, so recovery needs no restart. Short socket timeouts bound what an
unreachable Redis can add to a request: a feature that cannot reach it falls back (see
README, "Running several replicas") within about a second instead of hanging.
"""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING, Any

from ...errors import ConfigurationError

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["REDIS_ERRORS", "Outage", "connect"]

log = logging.getLogger("polymux.server")

#: Seconds to connect to Redis and to wait for one answer.
TIMEOUT = 1.0


def connect(url: str, *, password_env: str | None = None) -> Redis:
    """A client for ``url`` (``redis://``, ``rediss://`` or ``unix://``); connects lazily.
    ``password_env`` names the environment variable holding the password, if any."""
    try:
        from redis.asyncio import Redis
    except ImportError:
        raise ConfigurationError(
            "[state] redis needs redis-py: pip install 'polymux[redis]'"
        ) from None
    options: dict[str, Any] = {}
    if password_env:
        password = os.environ.get(password_env)
        if not password:
            raise ConfigurationError(
                f"[state] redis_password_env names {password_env}, which is not set"
            )
        options["password"] = password
    try:
        return Redis.from_url(
            url,
            **options,
            socket_timeout=TIMEOUT,
            socket_connect_timeout=TIMEOUT,
            health_check_interval=30,
        )
    except ValueError as exc:  # the URL's scheme or form; the message never holds a password
        raise ConfigurationError(f"[state] redis is not a Redis URL: {exc}") from None


def _errors() -> tuple[type[BaseException], ...]:
    try:
        from redis.exceptions import RedisError
    except ImportError:  # pragma: no cover - Redis is not configured then
        return (OSError,)
    return (RedisError, OSError)


#: What a Redis call raises when the server is away, slow or refuses (a full memory, a
#: read-only replica): the features fall back on any of these.
REDIS_ERRORS: tuple[type[BaseException], ...] = _errors()


class Outage:
    """Logs Redis going away and coming back once each, not once per request."""

    #: While Redis stays away, the error is logged again at most this often (seconds).
    REPEAT = 30.0

    def __init__(self) -> None:
        self.down = False
        self._logged = 0.0

    def failed(self, feature: str, exc: BaseException, fallback: str) -> None:
        now = time.monotonic()
        if not self.down or now - self._logged >= self.REPEAT:
            log.error(
                "Redis unreachable (%s: %s): %s %s", feature, type(exc).__name__, exc, fallback
            )
            self._logged = now
        self.down = True

    def ok(self) -> None:
        if self.down:
            log.warning("Redis reachable again: shared state is back in use")
            self.down = False


def script(client: Redis, source: str) -> Any:
    """A Lua script registered with ``client`` (EVALSHA, loaded again after a restart)."""
    return client.register_script(source)
