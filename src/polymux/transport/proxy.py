"""Proxies from the environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY).

aiohttp's own ``trust_env=True`` does this too, but per request it also reads ``~/.netrc`` in
a worker thread and re-reads the environment: two thread hand-offs that cost more CPU than
the rest of a request. Here the variables are read once per session and the answer for each
host is remembered. (``.netrc`` credentials are not used: providers authenticate with
headers.)
"""

from __future__ import annotations

import urllib.request
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

__all__ = ["EnvProxies"]

# Public in urllib but missing from typeshed.
_bypass: Callable[[str, Mapping[str, str]], bool] = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]


class EnvProxies:
    """The environment's proxy for a URL, read once (a new session reads it again)."""

    __slots__ = ("_cache", "_proxies")

    def __init__(self) -> None:
        # {"http": url, "https": url, "all": url, "no": "host,host"}, as urllib reads them.
        self._proxies = urllib.request.getproxies_environment()
        self._cache: dict[tuple[str, str], str | None] = {}

    def __bool__(self) -> bool:
        return any(k != "no" for k in self._proxies)

    def for_url(self, url: str) -> str | None:
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        try:
            return self._cache[key]
        except KeyError:
            pass
        proxy = self._proxies.get(parts.scheme) or self._proxies.get("all")
        host = parts.hostname or ""
        if proxy and _bypass(host, self._proxies):
            proxy = None
        if len(self._cache) < 1024:  # bounded: hosts come from configuration and image URLs
            self._cache[key] = proxy
        return proxy
