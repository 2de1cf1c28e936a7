"""The web chat's files as the gateway serves them: the page at / and /chat, every asset it
loads, the security headers on each, compression and revalidation, and nothing else."""

from __future__ import annotations

import gzip
import html
import json
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from polymux.server import Gateway, create_app, web
from polymux.server.limits import Limits
from polymux.server.store import Store

from .fakes import FakeServer
from .server_harness import asgi_request, fake_config

REMOTE = ("203.0.113.9", 40000)


@pytest.fixture
async def app(server: FakeServer, tmp_path: Path) -> AsyncIterator[Gateway]:
    gateway = create_app(fake_config(server), db_path=tmp_path / "g.db", key_refresh=0)
    yield gateway
    await gateway.aclose()


def assert_secure(headers: dict[str, str]) -> None:
    policy = dict(
        part.strip().split(" ", 1) for part in headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"  # no inline script, no eval
    assert policy["style-src"] == "'self'"
    assert policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"


async def test_the_page_is_served_at_root_and_chat_with_security_headers(app: Gateway) -> None:
    for path in ("/", "/chat"):
        status, headers, body = await asgi_request(app, "GET", path)
        assert status == 200
        assert headers["content-type"] == "text/html; charset=utf-8"
        assert_secure(headers)
        assert b"<title>polymux chat</title>" in body
        # Nothing inline for the CSP to refuse: every script has a src, no on* handlers.
        scripts = re.findall(rb"<script[^>]*>", body)
        assert scripts and all(b' src="/static/' in tag for tag in scripts)
        assert not re.search(rb"\son[a-z]+\s*=", body, re.IGNORECASE)
        assert b"style=" not in body


async def test_the_page_carries_this_gateways_limits(server: FakeServer, tmp_path: Path) -> None:
    config = replace(fake_config(server), limits=Limits(max_image_bytes=1234, max_images=3))
    gateway = create_app(config, db_path=tmp_path / "l.db")
    try:
        _, headers, body = await asgi_request(gateway, "GET", "/")
    finally:
        await gateway.aclose()
    tag = re.search(rb'<meta name="polymux-limits" content="([^"]*)">', body)
    assert tag is not None
    limits = json.loads(html.unescape(tag.group(1).decode()))
    assert limits["max_image_bytes"] == 1234 and limits["max_images"] == 3
    assert headers["content-length"] == str(len(body))


async def test_every_file_the_page_loads_is_served(app: Gateway) -> None:
    _, _, page = await asgi_request(app, "GET", "/")
    wanted = set(re.findall(rb'(?:src|href)="(/static/[^"]+)"', page))
    seen: set[bytes] = set()
    while wanted:
        path = wanted.pop()
        seen.add(path)
        status, headers, body = await asgi_request(app, "GET", path.decode())
        assert status == 200, path
        assert_secure(headers)
        if path.endswith((b".js", b".mjs")):
            assert headers["content-type"] == "text/javascript; charset=utf-8"
            # Modules it imports, statically or on first use (highlight.js).
            imports = re.findall(rb'(?:from |import\()"(/static/[^"]+|\./[^"]+)"', body)
            base = path.rsplit(b"/", 1)[0]
            for ref in imports:
                full = base + ref[1:] if ref.startswith(b"./") else ref
                if full not in seen:
                    wanted.add(full)
        elif path.endswith(b".css"):
            assert headers["content-type"] == "text/css; charset=utf-8"
    names = {p.decode() for p in seen}
    assert {
        "/static/app.css",
        "/static/js/main.js",
        "/static/vendor/marked.esm.js",
        "/static/vendor/purify.es.mjs",
        "/static/vendor/highlight.min.js",
    } <= names


async def test_gzip_and_revalidation(app: Gateway) -> None:
    path = "/static/vendor/marked.esm.js"
    status, plain_headers, plain = await asgi_request(app, "GET", path)
    assert status == 200 and "content-encoding" not in plain_headers
    status, headers, packed = await asgi_request(
        app, "GET", path, headers=[("Accept-Encoding", "gzip, deflate, br")]
    )
    assert headers["content-encoding"] == "gzip"
    assert gzip.decompress(packed) == plain
    assert len(packed) < len(plain) / 2
    assert headers["vary"] == "accept-encoding"
    etag = headers["etag"]
    status, headers, body = await asgi_request(app, "GET", path, headers=[("If-None-Match", etag)])
    assert status == 304 and body == b""
    status, _, _ = await asgi_request(app, "GET", path, headers=[("If-None-Match", '"other"')])
    assert status == 200


@pytest.mark.parametrize(
    "path",
    [
        "/static/",
        "/static/nope.js",
        "/static/../web.py",
        "/static/js/../../web.py",
        "/static/..%2fweb.py",
        "/static/vendor/.installed",
        "/static//etc/passwd",
    ],
)
async def test_only_shipped_files_are_served(app: Gateway, path: str) -> None:
    status, _, body = await asgi_request(app, "GET", path)
    assert status == 404
    assert orjson.loads(body)["error"]["code"] in ("not_found", "unknown_url")


async def test_the_page_is_public_while_the_api_needs_a_key(app: Gateway, tmp_path: Path) -> None:
    with Store(tmp_path / "g.db") as store:
        store.create_key("someone")
    for client in (REMOTE, ("127.0.0.1", 1)):
        status, _, _ = await asgi_request(app, "GET", "/", client=client)
        assert status == 200
        status, _, _ = await asgi_request(app, "GET", "/static/js/main.js", client=client)
        assert status == 200
        status, _, _ = await asgi_request(app, "GET", "/v1/models", client=client)
        assert status == 401
    status, headers, _ = await asgi_request(app, "POST", "/", {})
    assert status == 405 and headers["allow"] == "GET"


async def test_a_checkout_without_the_npm_files_says_how_to_fix_it(
    app: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {k: v for k, v in web.assets().items() if not k.startswith("vendor/")}
    monkeypatch.setattr(web, "assets", lambda: files)
    status, _, body = await asgi_request(app, "GET", "/")
    assert status == 503
    error = orjson.loads(body)["error"]
    assert error["code"] == "web_assets_missing"
    assert "make web" in error["message"]
