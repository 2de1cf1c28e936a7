"""The guarded image downloader: address guard, redirects, size cap, content-type check."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator

import pytest

from polymux import APIConnectionError, APIResponseValidationError, InvalidRequestError
from polymux.providers import fetch_image as downloader
from polymux.providers.fetch_image import fetch_image, inline_image
from polymux.transport import guard
from polymux.transport.guard import refuse_reason
from polymux.transport.http import HttpTransport
from polymux.types import CallOptions, ChatRequest, ImageRef
from polymux.types.media import MAX_IMAGE_BYTES
from tests.fakes.server import Action, FakeServer, json, text

PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 40
BMP = b"BM" + b"\x02" * 40


@pytest.fixture
async def transport() -> AsyncIterator[HttpTransport]:
    t = HttpTransport()
    yield t
    await t.aclose()


def chat_request(transport: HttpTransport, *, allow: bool, **options: object) -> ChatRequest:
    return ChatRequest(
        model="m",
        messages=[{"role": "user", "content": "hi"}],
        options=CallOptions(
            allow_private_image_urls=allow,
            max_retries=0,
            transport=transport,
            **options,  # type: ignore[arg-type]
        ),
    )


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("172.16.5.4", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata endpoints live here
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("0.0.0.0", "unspecified"),
        ("::ffff:10.0.0.1", "private"),  # IPv4-mapped IPv6 is checked as IPv4
        ("100.64.0.1", "non-global"),  # carrier-grade NAT
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_refuse_reason_by_address(address: str, reason: str | None) -> None:
    assert refuse_reason(ipaddress.ip_address(address)) == reason


async def test_loopback_is_refused_by_default_before_any_request(transport: HttpTransport) -> None:
    async with FakeServer() as server:
        server.script("GET", "/cat.png", text(200, PNG, content_type="image/png"))
        for url in (server.url("/cat.png"), f"http://localhost:{server.port}/cat.png"):
            with pytest.raises(InvalidRequestError, match="allow_private_image_urls=True"):
                await fetch_image(url, chat_request(transport, allow=False))
        assert server.requests == []


async def test_loopback_is_allowed_with_the_option(transport: HttpTransport) -> None:
    async with FakeServer() as server:
        server.script("GET", "/cat.png", text(200, PNG, content_type="image/png"))
        ref = await fetch_image(server.url("/cat.png"), chat_request(transport, allow=True))
        assert ref == ImageRef(data=PNG, media_type="image/png")
        assert server.requests[0].headers["Accept"] == "image/*"


async def test_inline_image_keeps_bytes_and_downloads_urls(transport: HttpTransport) -> None:
    inline = ImageRef(data=PNG, media_type="image/png")
    assert await inline_image(inline, chat_request(transport, allow=False)) is inline
    async with FakeServer() as server:
        server.script("GET", "/a", text(200, PNG, content_type="application/octet-stream"))
        got = await inline_image(
            ImageRef(url=server.url("/a")), chat_request(transport, allow=True)
        )
        assert got.data == PNG and got.media_type == "image/png"  # sniffed, not declared


async def test_declared_image_type_is_trusted_when_bytes_are_not_sniffable(
    transport: HttpTransport,
) -> None:
    async with FakeServer() as server:
        server.script("GET", "/b.bmp", text(200, BMP, content_type="image/bmp"))
        ref = await fetch_image(server.url("/b.bmp"), chat_request(transport, allow=True))
        assert ref.media_type == "image/bmp" and ref.data == BMP


async def test_not_an_image_is_refused(transport: HttpTransport) -> None:
    async with FakeServer() as server:
        server.script("GET", "/page", text(200, "<html>hi</html>", content_type="text/html"))
        with pytest.raises(APIResponseValidationError, match="text/html, not an image"):
            await fetch_image(server.url("/page"), chat_request(transport, allow=True))


async def test_oversized_image_is_refused(transport: HttpTransport) -> None:
    big = PNG + b"\x00" * MAX_IMAGE_BYTES
    async with FakeServer() as server:
        server.script("GET", "/big.png", text(200, big, content_type="image/png"))
        with pytest.raises(APIResponseValidationError, match="limit"):
            await fetch_image(server.url("/big.png"), chat_request(transport, allow=True))


async def test_http_error_status_is_typed(transport: HttpTransport) -> None:
    async with FakeServer() as server:
        server.script("GET", "/gone.png", json(404, {"error": "no such image"}))
        with pytest.raises(Exception, match="no such image") as info:
            await fetch_image(server.url("/gone.png"), chat_request(transport, allow=True))
        assert getattr(info.value, "status_code", None) == 404


@pytest.mark.parametrize("url", ["ftp://example.com/a.png", "file:///etc/passwd", "http:///x"])
async def test_non_http_urls_are_refused(transport: HttpTransport, url: str) -> None:
    with pytest.raises(InvalidRequestError):
        await fetch_image(url, chat_request(transport, allow=True))


async def test_unresolvable_host_is_a_connection_error(transport: HttpTransport) -> None:
    with pytest.raises(APIConnectionError, match="cannot resolve"):
        await fetch_image("http://no-such-host.invalid/a.png", chat_request(transport, allow=False))


async def test_caller_extra_headers_are_not_sent_to_the_image_host(
    transport: HttpTransport,
) -> None:
    async with FakeServer() as server:
        server.script("GET", "/cat.png", text(200, PNG, content_type="image/png"))
        request = chat_request(
            transport, allow=True, extra_headers={"Authorization": "Bearer sk-secret"}
        )
        await fetch_image(server.url("/cat.png"), request)
        assert "Authorization" not in server.requests[0].headers


def redirect(location: str) -> Action:
    return text(302, b"", headers={"Location": location})


@pytest.fixture
def fake_server_is_public(monkeypatch: pytest.MonkeyPatch) -> None:
    """Treat 127.0.0.1 (where fake servers listen) as if it were a public address, so a
    redirect from it to another loopback address shows the guard re-checking each hop."""
    real = guard.refuse_reason

    def patched(address: guard.IPAddress) -> str | None:
        return None if str(address) == "127.0.0.1" else real(address)

    monkeypatch.setattr(guard, "refuse_reason", patched)


@pytest.mark.usefixtures("fake_server_is_public")
async def test_redirects_are_followed_and_each_hop_is_checked(transport: HttpTransport) -> None:
    async with FakeServer() as server:
        server.script("GET", "/hop", redirect("/cat.png"))  # relative Location
        server.script("GET", "/cat.png", text(200, PNG, content_type="image/png"))
        server.script("GET", "/evil", redirect(f"http://127.0.0.2:{server.port}/cat.png"))
        ref = await fetch_image(server.url("/hop"), chat_request(transport, allow=False))
        assert ref.data == PNG
        with pytest.raises(InvalidRequestError, match="loopback address"):
            await fetch_image(server.url("/evil"), chat_request(transport, allow=False))
        assert [r.path for r in server.requests] == ["/hop", "/cat.png", "/evil"]


async def test_redirect_loops_end(transport: HttpTransport) -> None:
    async with FakeServer() as server:
        server.script("GET", "/loop", redirect("/loop"))
        with pytest.raises(APIResponseValidationError, match="redirected more than"):
            await fetch_image(server.url("/loop"), chat_request(transport, allow=True))
        assert len(server.requests) == downloader.MAX_REDIRECTS + 1


async def test_a_name_that_rebinds_to_loopback_after_the_check_is_refused(
    transport: HttpTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the name resolves to a public address when checked, then to the
    loopback fake server when the connection is made. The connection is refused."""
    import asyncio
    import socket

    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo
    answers: list[str] = []

    async def rebinding(host: object, port: object, *args: object, **kwargs: object) -> object:
        if host != "images.rebind.test":
            return await real(host, port, *args, **kwargs)  # type: ignore[arg-type]
        address = "93.184.216.34" if not answers else "127.0.0.1"
        answers.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(loop, "getaddrinfo", rebinding)
    async with FakeServer() as server:
        server.script("GET", "/cat.png", text(200, PNG, content_type="image/png"))
        url = f"http://images.rebind.test:{server.port}/cat.png"
        with pytest.raises(InvalidRequestError, match=r"resolved to a loopback address"):
            await fetch_image(url, chat_request(transport, allow=False))
        assert answers == ["93.184.216.34", "127.0.0.1"]  # checked, then refused at connect
        assert server.requests == []
        # With the caller's opt-in the same name is downloaded (the normal pool, no guard).
        ref = await fetch_image(url, chat_request(transport, allow=True))
        assert ref.data == PNG
