"""Who may call the gateway.

- Once any key was ever created, every request needs an active key
  (``Authorization: Bearer <key>``, ``api-key: <key>`` or ``x-api-key: <key>``, as the
  Anthropic SDKs send it), from any address, loopback
  included. Revoking every key locks the gateway rather than reopening it.
- While no key exists, only loopback clients are served (unless the operator passed
  ``--allow-unauthenticated``); a key they send is ignored, since SDKs always send one.

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

from .errormap import GatewayHTTPError
from .store import Store, hash_key

__all__ = ["ANONYMOUS", "KeyRing", "is_loopback_client"]

#: The key name logged for requests served without a key.
ANONYMOUS = None


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


def _bearer(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
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
        self, store: Store, *, allow_unauthenticated: bool = False, refresh: float = 1.0
    ) -> None:
        self._store = store
        self._allow_unauthenticated = allow_unauthenticated
        self._refresh = refresh
        self._loaded_at = -1e9
        self._any = False
        self._active: list[tuple[str, bytes]] = []

    def _load(self) -> None:
        now = time.monotonic()
        if now - self._loaded_at < self._refresh:
            return
        ever, active = self._store.key_state()
        self._any = ever
        self._active = [(name, bytes.fromhex(digest)) for name, digest in active]
        self._loaded_at = now

    @property
    def has_keys(self) -> bool:
        self._load()
        return self._any

    def authenticate(
        self, headers: Iterable[tuple[bytes, bytes]], client: tuple[str, int] | None
    ) -> str | None:
        """The name of the caller's key, or None when served without one; refuses with
        401/403 (``GatewayHTTPError``)."""
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
        presented = _bearer(headers)
        if presented is None:
            raise GatewayHTTPError(
                401,
                "missing API key: send it as 'Authorization: Bearer <key>'",
                code="missing_api_key",
                headers={"www-authenticate": "Bearer"},
            )
        digest = bytes.fromhex(hash_key(presented))
        found: str | None = None
        for name, known in self._active:
            if hmac.compare_digest(digest, known) and found is None:
                found = name
        if found is None:
            raise GatewayHTTPError(
                401,
                "invalid or revoked API key",
                code="invalid_api_key",
                headers={"www-authenticate": "Bearer"},
            )
        return found
