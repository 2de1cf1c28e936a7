"""The one retry policy, the OpenAI SDK's: 408, 409, 429, 5xx, connection errors and
timeouts; ``x-should-retry`` overrides the status rule; the server's ``retry-after-ms`` /
``retry-after`` (seconds or an HTTP date) is honoured up to a cap; otherwise exponential
backoff from 0.5 s to 8 s with up to 25 % jitter. A stream is never retried once it has
delivered content: only opening it is.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["DEFAULT_RETRY", "RetryPolicy", "parse_retry_after"]


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asks us to wait, from ``retry-after-ms`` or ``retry-after``."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return float(ms) / 1000.0
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):  # unreadable: the caller falls back to its own backoff
        return None
    return max(0.0, parsed.timestamp() - time.time())


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    initial_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.25
    #: Longest server-requested wait honoured; a longer one is not retried at all.
    max_retry_after: float = 60.0

    def should_retry_status(self, status: int, headers: Mapping[str, str]) -> bool:
        override = headers.get("x-should-retry")
        if override == "true":
            return True
        if override == "false":
            return False
        return status in (408, 409, 429) or status >= 500

    def delay(self, attempt: int, headers: Mapping[str, str] | None = None) -> float | None:
        """Seconds to wait before retry number ``attempt + 1``; None means do not retry."""
        if headers:
            asked = parse_retry_after(headers)
            if asked is not None:
                if asked > self.max_retry_after:
                    return None
                if asked >= 0:
                    return asked
        base: float = min(self.initial_delay * 2.0**attempt, self.max_delay)
        return base * (1.0 - self.jitter * random.random())


DEFAULT_RETRY = RetryPolicy()
