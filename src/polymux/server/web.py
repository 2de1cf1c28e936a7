"""The web chat: ``GET /`` and ``/chat`` (the page) and ``GET /static/<file>`` (its assets).

Only the files that ship in the package's ``static`` folder are served, looked up by name in
a table built once from that folder, so no request path reaches the file system. Every answer
carries a strict Content-Security-Policy (scripts and styles from this origin only, no inline
script, no eval, requests only to this origin, no framing), ``nosniff`` and ``no-referrer``.
The page and its assets are public: they hold no secret, and every API call the page makes is
checked like any other client's.

The third-party libraries (``static/vendor/``: marked, DOMPurify, highlight.js) come from npm
at build time (``make web``, pinned by ``web/package-lock.json``); a checkout that skipped that
step answers the page with a 503 saying how to fix it, instead of a page that cannot work.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import html
import json
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

from .asgi import header, send_bytes
from .errormap import GatewayHTTPError
from .limits import Limits

if TYPE_CHECKING:
    from .app import Call, Gateway

__all__ = ["PAGES", "PREFIX", "SECURITY_HEADERS", "handle_asset", "handle_page"]

PAGES = ("/", "/chat")
PREFIX = "/static/"
#: Files the page cannot work without: their absence means the npm step was skipped.
VENDOR = ("vendor/marked.esm.js", "vendor/purify.es.mjs")

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
_TYPES = {
    "html": b"text/html; charset=utf-8",
    "css": b"text/css; charset=utf-8",
    "js": b"text/javascript; charset=utf-8",
    "mjs": b"text/javascript; charset=utf-8",
    "svg": b"image/svg+xml",
    "json": b"application/json",
    "txt": b"text/plain; charset=utf-8",
}
#: Below this size gzip saves less than its header costs.
_GZIP_MIN = 512


@dataclass(slots=True, eq=False)
class Asset:
    content_type: bytes
    body: bytes
    etag: bytes
    _packed: bytes | None = None
    _tried: bool = False

    def gzipped(self) -> bytes | None:
        """The body gzipped (made on the first request that accepts it, so starting the
        gateway costs nothing); None when that would not make it smaller."""
        if not self._tried:
            self._tried = True
            if len(self.body) >= _GZIP_MIN:
                packed = gzip.compress(self.body, 6, mtime=0)
                self._packed = packed if len(packed) < len(self.body) else None
        return self._packed


def _asset(name: str, body: bytes) -> Asset:
    kind = _TYPES[name.rsplit(".", 1)[1]]
    etag = b'"' + hashlib.sha256(body).hexdigest()[:20].encode() + b'"'
    return Asset(kind, body, etag)


@functools.lru_cache(maxsize=1)
def assets() -> dict[str, Asset]:
    """Every servable file of the static folder by its path there ("app.js", "vendor/x.js").

    Read once per process: the folder is part of the installed package and does not change.
    """
    root = resources.files(__package__ or "polymux.server") / "static"
    found: dict[str, Asset] = {}
    pending = [(root, "")]
    while pending:
        folder, prefix = pending.pop()
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            name = prefix + entry.name
            if entry.is_dir():
                pending.append((entry, name + "/"))
            elif "." in entry.name and entry.name.rsplit(".", 1)[1] in _TYPES:
                found[name] = _asset(name, entry.read_bytes())
    return found


async def _send(call: Call, asset: Asset, cache: bytes) -> None:
    headers = [
        *SECURITY_HEADERS,
        (b"content-type", asset.content_type),
        (b"cache-control", cache),
        (b"etag", asset.etag),
        (b"vary", b"accept-encoding"),
    ]
    if header(call.scope, b"if-none-match") == asset.etag:
        await send_bytes(call.send, 304, b"", headers)
        return
    body = asset.body
    accept = header(call.scope, b"accept-encoding") or b""
    packed = asset.gzipped() if b"gzip" in accept else None
    if packed is not None:
        body = packed
        headers.append((b"content-encoding", b"gzip"))
    await send_bytes(call.send, 200, body, headers)


#: Where the page learns this gateway's request limits, to check attachments before upload.
_LIMITS_SLOT = b'<meta name="polymux-limits" content="">'


@functools.lru_cache(maxsize=8)
def _page(index: Asset, limits: Limits) -> Asset:
    """index.html with the gateway's limits filled in (a meta tag: data, not script)."""
    data = {
        "max_body_bytes": limits.max_body_bytes,
        "max_images": limits.max_images,
        "max_image_bytes": limits.max_image_bytes,
    }
    tag = f'<meta name="polymux-limits" content="{html.escape(json.dumps(data))}">'
    return _asset("index.html", index.body.replace(_LIMITS_SLOT, tag.encode(), 1))


async def handle_page(gateway: Gateway, call: Call) -> None:
    files = assets()
    missing = [name for name in VENDOR if name not in files]
    if missing or "index.html" not in files:
        raise GatewayHTTPError(
            503,
            "the web chat's files are missing from this installation "
            f"({', '.join(missing) or 'index.html'}); in a source checkout run `make web` "
            "(it installs them from npm), or install a built polymux wheel",
            code="web_assets_missing",
        )
    # Revalidated on each load (cheap with the ETag): an upgraded gateway serves its new page.
    await _send(call, _page(files["index.html"], gateway.limits), b"no-cache")


async def handle_asset(gateway: Gateway, call: Call) -> None:
    asset = assets().get(call.scope["path"][len(PREFIX) :])
    if asset is None:
        raise GatewayHTTPError(404, "no such file", code="not_found")
    await _send(call, asset, b"no-cache")
