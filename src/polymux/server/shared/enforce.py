"""Per-key limits on the request path: admit a request before its handler runs (429 with
Retry-After when a limit is reached), charge its tokens and cost once it ended.

When the counters cannot be reached (Redis away), limits fail open by default: the request
is served uncounted and the outage is logged (once, then every 30 s, and its end);
``[state] limits_on_redis_error = "closed"`` refuses such requests with 503 instead.
"""

from __future__ import annotations

import logging
import math
from typing import Literal

from ..errormap import GatewayHTTPError
from ..store import KeyLimits, UsageRecord
from .connection import REDIS_ERRORS, Outage
from .counters import Counters, Lease, Refusal

__all__ = ["KeyLimiter"]

log = logging.getLogger("polymux.server")

_WHAT = {
    "rpm": "requests per minute",
    "tpm": "tokens per minute",
    "concurrency": "requests in flight at once",
    "budget": "budget",
}


class KeyLimiter:
    def __init__(
        self,
        counters: Counters,
        *,
        on_error: Literal["open", "closed"] = "open",
        outage: Outage | None = None,
    ) -> None:
        self.counters = counters
        self._on_error = on_error
        #: Shared with the Redis counters, whose settlements report their own failures.
        self._outage = outage or Outage()

    async def admit(self, key: str, limits: KeyLimits) -> Lease | None:
        """The request's lease, or None when served uncounted (counters unreachable, failing
        open); raises the 429 (or 503 failing closed) the caller gets."""
        try:
            answer = await self.counters.admit(key, limits)
        except REDIS_ERRORS as exc:
            if self._on_error == "closed":
                self._outage.failed("limits", exc, "refusing requests of limited keys")
                raise GatewayHTTPError(
                    503,
                    "the gateway cannot check this key's limits right now; retry shortly",
                    code="limits_unavailable",
                    headers={"retry-after": "1"},
                ) from None
            self._outage.failed("limits", exc, "serving requests without counting them")
            return None
        self._outage.ok()
        if isinstance(answer, Refusal):
            raise _refused(answer, limits)
        return answer

    async def settle(self, lease: Lease, record: UsageRecord) -> None:
        """Charge the request's tokens and cost (a cost the price table did not fill is 0)
        and give back its slot. Never raises: the answer was already given."""
        tokens = record.total_tokens
        if tokens is None:
            tokens = (record.prompt_tokens or 0) + (record.completion_tokens or 0)
        try:
            await self.counters.settle(lease, tokens, record.cost or 0.0)
        except REDIS_ERRORS as exc:
            self._outage.failed("limits", exc, "this request's usage was not counted")
        else:
            self._outage.ok()


def _refused(refusal: Refusal, limits: KeyLimits) -> GatewayHTTPError:
    seconds = max(1, math.ceil(refusal.retry_after))
    if refusal.limit == "budget":
        unit = "USD" if limits.budget_unit == "usd" else "tokens"
        message = (
            f"this API key has spent its budget of {limits.budget:g} {unit} per "
            f"{limits.budget_period}; it resets in {seconds} s"
        )
    else:
        limit = getattr(limits, refusal.limit)
        message = (
            f"this API key's limit of {limit} {_WHAT[refusal.limit]} is reached; "
            f"retry in {seconds} s"
        )
    return GatewayHTTPError(
        429,
        message,
        code=f"key_{refusal.limit}_exceeded",
        headers={"retry-after": str(seconds)},
    )
