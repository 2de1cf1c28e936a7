"""Structured request logs (opt-in: ``[server] json_logs = true`` or ``--json-logs``): one JSON
object a line per API request, on the ``polymux.requests`` logger (stderr when served by
``polymux serve``).

The line holds what the usage row holds, and the request id, method, path and client address,
so a log pipeline can follow a call without the database. The caller is named by its key's
name only, never the key; request and answer content are never in it.
"""

from __future__ import annotations

import logging
import sys
import time

import orjson

from .asgi import Scope
from .store import UsageRecord

__all__ = ["LOGGER", "install_handler", "log_request"]

LOGGER = "polymux.requests"
log = logging.getLogger(LOGGER)


def log_request(scope: Scope, record: UsageRecord, key: str | None) -> None:
    """Log one finished request as a JSON line."""
    client = scope.get("client")
    line = {
        "ts": round(record.ts or time.time(), 3),
        "request_id": record.request_id,
        "method": scope["method"],
        "path": scope["path"],
        "status": record.status,
        "latency_ms": None if record.latency_ms is None else round(record.latency_ms, 2),
        "ttft_ms": None if record.ttft_ms is None else round(record.ttft_ms, 2),
        "key": key,
        "model": record.model,
        "provider": record.provider,
        "stream": record.stream,
        "prompt_tokens": record.prompt_tokens,
        "completion_tokens": record.completion_tokens,
        "total_tokens": record.total_tokens,
        "cost": record.cost,
        "cached": record.cached,
        "client": str(client[0]) if client else None,
        "error": record.error,
    }
    log.info(orjson.dumps(line).decode())


def install_handler() -> None:
    """Write the request lines, bare, to stderr (once per process)."""
    if log.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False  # a root handler would wrap the JSON in its own format
