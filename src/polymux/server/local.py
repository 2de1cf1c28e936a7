"""What a request must look like while the gateway has no API keys (its default posture).

Without keys the gateway answers loopback clients only (auth.py). A browser is such a client
too: any web page the operator visits could make it POST to ``127.0.0.1`` (a "simple"
cross-site request needs no CORS preflight) and spend upstream credit, and with DNS
rebinding (a hostile name that resolves to 127.0.0.1) read the answers; Ollama had this bug
(CVE-2024-28224). So while no key exists a request must also

- name the gateway by a loopback ``Host`` (or the host of the configured ``public_url``);
  skipped when the operator serves everyone (``allow_unauthenticated``) on a non-loopback
  address, where the names clients use are unknown;
- carry no ``Origin`` but the gateway's own kind: a loopback origin, ``public_url``'s, or one
  of ``cors_origins``;
- send its body as ``application/json``, which a cross-site page cannot do without a
  preflight that it would fail. The upload routes (image edits and variations, audio) take
  ``multipart/form-data`` as OpenAI's do; a page can send that without a preflight, so there
  the ``Origin`` rule above (browsers send ``Origin`` with every cross-site POST) and the
  ``Host`` rule (against DNS rebinding) are what refuse it;
- carry no proxy headers (``X-Forwarded-For``, ``Forwarded``, ``X-Real-IP``) unless trusted
  proxies are configured: behind a same-host proxy every remote client looks like loopback.

Only header names and a few bytes are compared: no parsing on the request path.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from .asgi import Scope
from .config import GatewayConfig, is_loopback_host
from .errormap import GatewayHTTPError

__all__ = ["LocalOnly"]

_LOOPBACK_NAMES = frozenset({b"localhost", b"127.0.0.1", b"[::1]"})
_PROXY_HEADERS = frozenset({b"x-forwarded-for", b"forwarded", b"x-real-ip"})
_JSON = b"application/json"
_MULTIPART = b"multipart/form-data"
#: The routes whose bodies are uploads (OpenAI's API takes them as multipart/form-data).
UPLOAD_PATHS = frozenset(
    {
        "/v1/images/edits",
        "/v1/images/variations",
        "/v1/audio/transcriptions",
        "/v1/audio/translations",
    }
)


def _host_name(host: bytes) -> bytes:
    """``host[:port]`` or ``[v6]:port`` -> the name, lower case."""
    if host.startswith(b"["):
        return host[: host.find(b"]") + 1].lower()
    return host.partition(b":")[0].lower()


class LocalOnly:
    def __init__(self, config: GatewayConfig) -> None:
        names = set(_LOOPBACK_NAMES)
        origins = {o.encode().rstrip(b"/").lower() for o in config.cors_origins}
        if config.public_url:
            public = urlsplit(config.public_url)
            if public.hostname:
                netloc = public.netloc.rpartition("@")[2]
                names.add(_host_name(netloc.encode()))
                origins.add(f"{public.scheme}://{netloc}".encode().lower())
        self._names = frozenset(names)
        self._origins = frozenset(origins)
        self._any_origin = b"*" in origins
        self._check_host = not config.allow_unauthenticated or is_loopback_host(config.host)
        self._trust_proxies = bool(config.trusted_proxies)

    def check(self, scope: Scope) -> None:
        """Refuse (403, 415) a request that no-key mode does not serve."""
        host = origin = content_type = None
        proxied = False
        for name, value in scope["headers"]:
            if name == b"host":
                host = value
            elif name == b"origin":
                origin = value
            elif name == b"content-type":
                content_type = value
            elif name in _PROXY_HEADERS:
                proxied = True
        if proxied and not self._trust_proxies:
            raise _refused(
                "this gateway has no API keys and does not serve requests through a proxy "
                "(X-Forwarded-For, Forwarded or X-Real-IP was sent); configure [server] "
                "trusted_proxies, or create a key with `polymux keys create NAME`",
                "proxy_not_trusted",
            )
        if self._check_host and (host is None or _host_name(host) not in self._names):
            raise _refused(
                "this gateway has no API keys and answers only requests addressed to it by a "
                "loopback name (localhost, 127.0.0.1, [::1]) or its public_url",
                "host_not_allowed",
            )
        if origin is not None and not self._origin_allowed(origin):
            raise _refused(
                "this gateway has no API keys and does not serve web pages from other "
                "origins; list the origin in [server] cors_origins or create a key",
                "origin_not_allowed",
            )
        if scope["method"] == "POST" and not _body_type_allowed(content_type, scope["path"]):
            raise GatewayHTTPError(
                415,
                "send the request body as JSON with 'Content-Type: application/json' (the "
                "upload routes also take multipart/form-data)",
                code="unsupported_media_type",
            )

    def _origin_allowed(self, origin: bytes) -> bool:
        origin = origin.rstrip(b"/").lower()
        if self._any_origin or origin in self._origins:
            return True
        scheme, sep, rest = origin.partition(b"://")
        return bool(sep) and scheme in (b"http", b"https") and _host_name(rest) in _LOOPBACK_NAMES


def _body_type_allowed(content_type: bytes | None, path: str) -> bool:
    if content_type is None:
        return False
    content_type = content_type.lower()
    if content_type.startswith(_JSON):
        return True
    return path in UPLOAD_PATHS and content_type.startswith(_MULTIPART)


def _refused(message: str, code: str) -> GatewayHTTPError:
    return GatewayHTTPError(403, message, code=code)
