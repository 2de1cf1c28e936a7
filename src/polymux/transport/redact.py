"""Secrets out of upstream text: the one redaction applied where upstream text becomes an error.

An upstream may echo what it received (some proxies and mock servers put the request's
``Authorization`` header in their error body). Error messages travel far: exceptions, the
gateway's JSON errors and SSE error events, the usage log, the CLI's error line. So every
error built from upstream text (transport/errors.py) passes through ``redact``, which removes

- the credentials this very request carried (the values of its credential headers), and
- anything shaped like a credential: ``Bearer <token>``, ``sk-...`` keys (OpenAI, Anthropic),
  ``AIza...`` keys (Google), and ``api-key``/``x-api-key``/``key`` values written as
  ``name: value`` or ``name=value``.

Messages that quote a piece of a malformed answer use ``quoted``, which redacts the shapes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "REDACTED",
    "credential_values",
    "quoted",
    "redact",
    "redact_bytes",
    "redact_value",
]

REDACTED = "[redacted]"

_TOKEN = r"[A-Za-z0-9._~+/=-]"
_SHAPES = re.compile(
    rf"(?i:\bbearer\s+){_TOKEN}+"
    rf"|\bsk-{_TOKEN}{{8,}}"
    r"|\bAIza[0-9A-Za-z_-]{20,}"
    rf"|(?i:\b(?:x-)?(?:api[-_]?key|x-goog-api-key|key)[\"']?\s*[:=]\s*[\"']?){_TOKEN}{{8,}}"
)
#: Request headers whose values are credentials (lower case).
_CREDENTIAL_HEADERS = frozenset(
    {"authorization", "api-key", "x-api-key", "x-goog-api-key", "proxy-authorization"}
)
_SCHEMES = ("bearer ", "basic ", "token ")


def credential_values(headers: Mapping[str, str] | None) -> tuple[str, ...]:
    """The secrets among request headers (``Bearer`` and similar schemes stripped)."""
    if not headers:
        return ()
    out: list[str] = []
    for name, value in headers.items():
        if name.lower() not in _CREDENTIAL_HEADERS or not value:
            continue
        lowered = value.lower()
        for scheme in _SCHEMES:
            if lowered.startswith(scheme):
                value = value[len(scheme) :].strip()
                break
        if len(value) >= 4:  # a shorter "secret" would redact ordinary words
            out.append(value)
    return tuple(out)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without ``secrets`` and without anything shaped like a credential."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return _SHAPES.sub(_replace, text)


def _replace(match: re.Match[str]) -> str:
    found = match.group(0)
    # Keep the label ("Bearer ", "api-key: "), drop the value.
    head = re.match(r"(?i)(bearer\s+|[^:=]*[:=]\s*[\"']?)", found)
    if head is not None and not found.lower().startswith(("sk-", "aiza")):
        return head.group(0) + REDACTED
    return REDACTED


def redact_bytes(raw: bytes, secrets: Iterable[str] = ()) -> bytes:
    """``redact`` for a raw body (decoded as UTF-8 with replacement, then re-encoded)."""
    text = raw.decode("utf-8", "replace")
    cleaned = redact(text, secrets)
    return raw if cleaned == text else cleaned.encode()


def redact_value(value: Any, secrets: Iterable[str] = ()) -> Any:
    """Every string inside a decoded JSON value, redacted (a copy; the input is not changed)."""
    secrets = tuple(secrets)
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, Mapping):
        return {k: redact_value(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_value(v, secrets) for v in value]
    return value


def quoted(text: str | bytes, limit: int = 200) -> str:
    """A redacted, quoted prefix of upstream text, to show in an error message (a malformed
    chunk, a body that is not JSON)."""
    if isinstance(text, bytes):
        text = text[:limit].decode("utf-8", "replace")
    return repr(redact(text[:limit]))
