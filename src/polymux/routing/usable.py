"""Whether a provider can be called here, and if not, what it needs.

Used only when the caller named a model and no provider: a provider is usable when its
credentials are present (its API key variable is set) and, for a local server, when that
server has been configured (its ``*_BASE_URL`` variable is set or a base_url was given):
polymux does not probe ports to guess whether something listens there.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from ..providers.base import Provider

__all__ = ["unusable_reason"]

_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0"})


def unusable_reason(provider: Provider) -> str | None:
    """None when the provider can be called here; else what it needs, e.g. 'set GROQ_API_KEY'."""
    needs: list[str] = []
    if provider.requires_api_key and not provider.api_key:
        env = provider.api_key_env
        needs.append("set " + " or ".join(env) if env else "an api_key")
    elif not provider.is_configured:  # credentials other than a key (AWS, Google Cloud)
        needs.append(provider.credentials_hint or "credentials")
    endpoint = _endpoint_need(provider)
    if endpoint:
        needs.append(endpoint)
    return " and ".join(needs) or None


def _endpoint_need(provider: Provider) -> str | None:
    if provider.base_url:
        return None
    url_env = provider.base_url_env
    if url_env and os.environ.get(url_env):
        return None
    default = provider.default_base_url
    if default is None:
        if not provider.requires_base_url:  # not an HTTP provider, or one with a fixed address
            return None
        return f"set {url_env}" if url_env else "a base_url"
    if not _is_loopback(default):
        return None
    return f"a local server: set {url_env}" if url_env else "a local server: pass base_url"


def _is_loopback(url: object) -> bool:
    if not isinstance(url, str) or not url:
        return False
    return (urlsplit(url).hostname or "") in _LOOPBACK
