"""Who may call the gateway.

- Once any key was ever created, every request needs an active key
  (``Authorization: Bearer <key>``, ``api-key: <key>`` or ``x-api-key: <key>``, as the
  Anthropic SDKs send it), from any address, loopback
  included. Revoking every key locks the gateway rather than reopening it.
- While no key exists, only loopback clients are served (unless the operator passed
  ``--allow-unauthenticated``); a key they send is ignored, since SDKs always send one.

``authenticate`` answers a ``Caller``: the key's name and its ``KeyLimits`` (what the limit
enforcement and the allowed-models check read), made once per key at each reload, so the
request path allocates nothing. A key past its expiry is refused with a 401 that says so.

Keys are compared by their SHA-256 against every active key with ``hmac.compare_digest``,
without stopping at the first match, so timing says nothing about which key is close. The key
list is re-read from the database at most every ``refresh`` seconds, so ``polymux keys
revoke`` takes effect on a running gateway.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from .errormap import GatewayHTTPError
from .store import ActiveKey, KeyLimits, key_digest

__all__ = ["ANONYMOUS", "Caller", "KeyRing", "KeySource", "bearer_token", "is_loopback_client"]


_NO_LIMITS = KeyLimits()


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the key's name (None: served without a key) and its limits."""

    name: str | None
    limits: KeyLimits = _NO_LIMITS
    expires: float | None = None

    def check_model(self, model: str | None) -> None:
        """Refuse (403) a model outside the key's allowed models."""
        allowed = self.limits.models
        if allowed is None or model in allowed:
            return
        names = ", ".join(allowed)
        raise GatewayHTTPError(
            403,
            f"this API key may not use model {model!r}; it may use: {names}"
            if model
            else f"this API key must name its model; it may use: {names}",
            code="model_not_allowed",
            param="model",
        )


#: The caller of a request served without a key.
ANONYMOUS = Caller(None)


class KeySource(Protocol):
    """Where the key list comes from: the SQLite store, or a copy of the PostgreSQL one
    refreshed in the background (server/database.py)."""

    def key_state(self) -> tuple[bool, list[ActiveKey]]: ...


def is_loopback_client(client: tuple[str, int] | list[object] | None) -> bool:
    """Whether the ASGI ``scope["client"]`` is a loopback address (unknown: no)."""
    if not client:
        return False
    return _is_loopback_address(str(client[0]))


@functools.lru_cache(maxsize=1024)
def _is_loopback_address(host: str) -> bool:
    # Cached: parsing the address cost several microseconds on every request, and a gateway
    # sees few distinct client addresses.
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def bearer_token(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
        elif name in (b"api-key", b"x-api-key") and value.strip():  # Azure, Anthropic SDKs
            return value.decode("latin-1").strip()
    return None


class KeyRing:
    def __init__(
        self, store: KeySource, *, allow_unauthenticated: bool = False, refresh: float = 1.0
    ) -> None:
        self._store = store
        self._allow_unauthenticated = allow_unauthenticated
        self._refresh = refresh
        self._loaded_at = -1e9
        self._state: tuple[bool, list[ActiveKey]] | None = None
        self._any = False
        self._active: list[tuple[Caller, bytes]] = []

    def _load(self) -> None:
        now = time.monotonic()
        if now - self._loaded_at < self._refresh:
            return
        state = self._store.key_state()
        self._loaded_at = now
        if state is self._state:  # a KeyMirror's list, unchanged since the last look
            return
        self._state = state
        ever, active = state
        self._any = ever
        self._active = [
            (Caller(key.name, key.limits, key.expires), bytes.fromhex(key.digest)) for key in active
        ]

    @property
    def has_keys(self) -> bool:
        self._load()
        return self._any

    def authenticate(
        self, headers: Iterable[tuple[bytes, bytes]], client: tuple[str, int] | None
    ) -> Caller:
        """The caller's key (``ANONYMOUS`` when served without one); refuses with 401/403
        (``GatewayHTTPError``)."""
        self._load()
        if not self._any:
            if self._allow_unauthenticated or is_loopback_client(client):
                return ANONYMOUS
            raise GatewayHTTPError(
                403,
                "this gateway has no API keys yet and serves only local (loopback) clients; "
                "create one with `polymux keys create NAME`",
                code="loopback_only",
            )
        presented = bearer_token(headers)
        if presented is None:
            raise GatewayHTTPError(
                401,
                "missing API key: send it as 'Authorization: Bearer <key>'",
                code="missing_api_key",
                headers={"www-authenticate": "Bearer"},
            )
        digest = key_digest(presented)
        found: Caller | None = None
        for caller, known in self._active:
            if hmac.compare_digest(digest, known) and found is None:
                found = caller
        if found is None:
            raise GatewayHTTPError(
                401,
                "invalid or revoked API key",
                code="invalid_api_key",
                headers={"www-authenticate": "Bearer"},
            )
        if found.expires is not None and time.time() >= found.expires:
            when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(found.expires))
            raise GatewayHTTPError(
                401,
                f"API key {found.name!r} expired at {when}; ask for a new key, or extend it "
                "with `polymux keys set NAME --expires ...`",
                code="expired_api_key",
                headers={"www-authenticate": "Bearer"},
            )
        return found
