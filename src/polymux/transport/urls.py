"""Values placed in a URL path: each one exactly one encoded segment.

A model or deployment name comes from callers (and, through the gateway, from anyone who may
call it). Put into a path unescaped, ``../../any/path?x=`` would send the request, with the
provider's credentials, to another endpoint of the same host. So names with ``/``, ``\\``,
``?``, ``#``, ``%`` or a ``.``/``..`` segment are refused, and the rest is percent-encoded.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

from ..errors import InvalidRequestError

__all__ = ["has_userinfo", "mask_userinfo", "path_segment"]

_REFUSED = ("/", "\\", "?", "#", "%")


def path_segment(value: str, what: str) -> str:
    """``value`` percent-encoded as one path segment; ``InvalidRequestError`` when it could
    not be one (``what`` names it in the message, e.g. "deployment name")."""
    if not value or value in (".", "..") or any(c in value for c in _REFUSED):
        raise InvalidRequestError(
            f"{what} {value[:100]!r} is not valid: it may not be empty, '.' or '..', or "
            "contain '/', '\\\\', '?', '#' or '%'"
        )
    if not value.isprintable():
        raise InvalidRequestError(f"{what} {value[:100]!r} contains control characters")
    return quote(value, safe="")


def has_userinfo(url: str) -> bool:
    """Whether ``url`` holds ``user[:password]@`` (credentials in the URL)."""
    try:
        return "@" in url and urlsplit(url).username is not None
    except ValueError:
        return False


def mask_userinfo(url: str) -> str:
    """``url`` with the password of its ``user:password@`` part replaced by ``***``, for
    display (a base URL may carry credentials; a listing must not show them)."""
    if not has_userinfo(url):
        return url
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    masked = f"{user}:***@{host}" if parts.password is not None else f"{user}@{host}"
    return urlunsplit(parts._replace(netloc=masked))
