"""Connections to public addresses only: the guard for URLs that come from untrusted input.

``refuse_reason`` says why an address is not public. ``PublicOnlyResolver`` applies it at the
moment a connection is made: the transport gives requests marked ``public_only`` a connector
with this resolver and no DNS cache, so aiohttp asks it for every new connection. A name that
resolved to a public address when the caller checked it and to a private one a moment later
(DNS rebinding) is still refused. Literal IP addresses never reach a resolver; callers check
those themselves (their answer cannot change).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any, TypeAlias

from ..errors import InvalidRequestError

__all__ = ["IPAddress", "PublicOnlyResolver", "first_refused", "refuse_reason"]

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address


def refuse_reason(address: IPAddress) -> str | None:
    """Why a connection to this address is refused by default, or None when it is public."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    for kind in ("loopback", "link_local", "multicast", "unspecified", "reserved", "private"):
        if getattr(address, f"is_{kind}"):
            return kind.replace("_", "-")
    if not address.is_global:  # shared (CGNAT), documentation and other special ranges
        return "non-global"
    return None


def first_refused(hosts: Iterable[str]) -> tuple[IPAddress, str] | None:
    """The first of these resolved addresses that is not public, with why; None if all are.
    (A scope suffix such as ``%eth0`` on a link-local IPv6 address is ignored.)"""
    for host in hosts:
        address = ipaddress.ip_address(host.split("%", 1)[0])
        reason = refuse_reason(address)
        if reason is not None:
            return address, reason
    return None


class PublicOnlyResolver:
    """aiohttp's default resolver, refusing names that resolve to any non-public address.

    Duck-typed to aiohttp's ``AbstractResolver`` (``resolve`` and ``close``) so that this
    module does not import aiohttp until a guarded connection is made.
    """

    def __init__(self) -> None:
        from aiohttp.resolver import DefaultResolver

        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[Any]:
        results: list[Any] = await self._inner.resolve(host, port, family)
        refused = first_refused(str(result["host"]) for result in results)
        if refused is not None:
            address, reason = refused
            # An APIError, not an OSError: aiohttp passes it through unwrapped.
            raise InvalidRequestError(
                f"refusing to connect to {host}: it resolved to a {reason} address "
                f"({address}) when the connection was made, though not when it was checked "
                "(DNS rebinding?)"
            )
        return results

    async def close(self) -> None:
        await self._inner.close()
