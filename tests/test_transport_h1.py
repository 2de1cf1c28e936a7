"""h1.py's connection pool on its own cases, over real sockets on 127.0.0.1 (and ::1).

The upstreams here are raw asyncio servers writing HTTP/1.1 by hand, so that a test can say
exactly what goes over the wire: a connection closed as the next request arrives (the stale
keep-alive race), ``Connection: close``, chunked gzip, a head too large, a body stalled. The
cases both paths share (retries, timeouts, limits, streams) run through h1.py and aiohttp alike
in test_transport_faults.py and test_transport_deadline.py.
"""

from __future__ import annotations

import asyncio
import datetime
import gzip
import ssl
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from polymux import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    InvalidRequestError,
    Timeout,
)
from polymux.transport import HttpRequest, RetryPolicy
from polymux.transport.h1 import HIGH_WATER, MAX_HEAD, H1Response
from polymux.transport.http import HttpTransport
from polymux.types.request import CallOptions

FAST = RetryPolicy(initial_delay=0.01, max_delay=0.02)
OK_BODY = b'{"ok": true}'


def answer(
    body: bytes = OK_BODY, *, status: str = "200 OK", headers: tuple[str, ...] = ()
) -> bytes:
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def chunked(body: bytes, size: int, headers: tuple[str, ...] = ()) -> bytes:
    head = ["HTTP/1.1 200 OK", "Transfer-Encoding: chunked", *headers]
    out = ("\r\n".join(head) + "\r\n\r\n").encode()
    for i in range(0, len(body), size):
        piece = body[i : i + size]
        out += b"%x\r\n%s\r\n" % (len(piece), piece)
    return out + b"0\r\n\r\n"


Handler = Callable[["Upstream", asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


class Upstream:
    """A raw HTTP/1.1 server: ``handler(upstream, reader, writer, n)`` serves the n-th
    connection (from 0); ``requests`` holds (connection number, head, body) as received."""

    def __init__(self, handler: Handler, host: str = "127.0.0.1") -> None:
        self.handler = handler
        self.host = host
        self.requests: list[tuple[int, bytes, bytes]] = []
        self.connections = 0
        self.open = 0
        self.most_open = 0
        self._server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> Upstream:
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def url(self, path: str = "/v1/x") -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        n = self.connections
        self.connections += 1
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            await self.handler(self, reader, writer, n)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.open -= 1
            writer.close()

    async def request(self, reader: asyncio.StreamReader, n: int) -> bytes | None:
        """The next request's head (its body read and kept too), None at the end."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        body = await reader.readexactly(length)
        self.requests.append((n, head, body))
        return head

    async def wait_closed_by_client(self) -> None:
        for _ in range(300):
            if not self.open:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the client left a connection open")


def keep_alive(*answers: bytes) -> Handler:
    """Each connection answers its requests with ``answers`` in turn, kept open."""

    async def handler(up: Upstream, reader: Any, writer: Any, n: int) -> None:
        i = 0
        while await up.request(reader, n) is not None:
            writer.write(answers[min(i, len(answers) - 1)])
            i += 1

    return handler


def post(url: str, **options: Any) -> HttpRequest:
    return HttpRequest(
        method="POST",
        url=url,
        json={"q": 1},
        provider="test",
        options=CallOptions(**options),
    )


@pytest.fixture
async def transport() -> AsyncIterator[HttpTransport]:
    t = HttpTransport(retry=FAST)
    yield t
    await t.aclose()


# -- the pool -----------------------------------------------------------------------------------


async def test_one_connection_serves_request_after_request(transport: HttpTransport) -> None:
    async with Upstream(keep_alive(answer())) as up:
        for _ in range(3):
            response = await transport.request(post(up.url()))
            assert response.json() == {"ok": True}
        assert up.connections == 1 and len(up.requests) == 3
        head = up.requests[0][1].decode()
        assert head.startswith("POST /v1/x HTTP/1.1\r\n")
        assert f"Host: 127.0.0.1:{up.port}\r\n" in head
        assert "Content-Type: application/json" in head and "Content-Length: 7" in head
        assert "Accept-Encoding: gzip, deflate" in head and "User-Agent: polymux/" in head
        assert up.requests[0][2] == b'{"q":1}'


async def test_a_stale_reused_connection_is_retried_once_on_a_fresh_one(
    transport: HttpTransport,
) -> None:
    """The server closes its keep-alive connection just as the second request arrives (the
    request never reaches it): the pool sends it again on a fresh connection, whatever the
    retry policy (here: none)."""

    async def handler(up: Upstream, reader: Any, writer: Any, n: int) -> None:
        await up.request(reader, n)
        writer.write(answer())
        await writer.drain()
        if n == 0:
            await reader.readuntil(b"\r\n\r\n")  # the second request: dropped unanswered
            return
        while await up.request(reader, n) is not None:
            writer.write(answer())

    async with Upstream(handler) as up:
        assert (await transport.request(post(up.url(), max_retries=0))).status == 200
        assert (await transport.request(post(up.url(), max_retries=0))).status == 200
        assert up.connections == 2
        assert [n for n, _, _ in up.requests] == [0, 1]


async def test_a_fresh_connection_closed_unanswered_is_not_retried_by_the_pool(
    transport: HttpTransport,
) -> None:
    async def handler(up: Upstream, reader: Any, writer: Any, n: int) -> None:
        await up.request(reader, n)  # read, then close without a word

    async with Upstream(handler) as up:
        with pytest.raises(APIConnectionError, match="closed the connection without answering"):
            await transport.request(post(up.url(), max_retries=0))
        assert up.connections == 1


async def test_an_idle_connection_the_server_closed_is_dropped(transport: HttpTransport) -> None:
    async def handler(up: Upstream, reader: Any, writer: Any, n: int) -> None:
        await up.request(reader, n)
        writer.write(answer())
        await writer.drain()  # and close: the client's pool must notice while idle

    async with Upstream(handler) as up:
        await transport.request(post(up.url()))
        pool = transport._h1
        assert pool is not None
        for _ in range(300):
            if not pool._open:
                break
            await asyncio.sleep(0.01)
        assert not pool._open and not any(pool._idle.values())
        assert (await transport.request(post(up.url(), max_retries=0))).status == 200
        assert up.connections == 2


@pytest.mark.parametrize(
    "response",
    [
        answer(headers=("Connection: close",)),
        answer().replace(b"HTTP/1.1", b"HTTP/1.0", 1),  # 1.0 without keep-alive
    ],
    ids=["connection-close", "http-1.0"],
)
async def test_an_answer_that_ends_its_connection_is_not_reused(
    transport: HttpTransport, response: bytes
) -> None:
    async def handler(up: Upstream, reader: Any, writer: Any, n: int) -> None:
        await up.request(reader, n)
        writer.write(response)
        await reader.read()  # keeps the socket open: only the header says close

    async with Upstream(handler) as up:
        for _ in range(2):
            assert (await transport.request(post(up.url()))).json() == {"ok": True}
        assert up.connections == 2
        await up.wait_closed_by_client()


async def test_the_connection_limit_is_kept() -> None:
    async def handler(up: Upstream, reader: Any, writer: Any, n: int) -> None:
        while await up.request(reader, n) is not None:
            await asyncio.sleep(0.02)
            writer.write(answer())

    transport = HttpTransport(limit=2, retry=FAST)
    async with Upstream(handler) as up, Upstream(handler) as other:
        await asyncio.gather(*(transport.request(post(up.url())) for _ in range(8)))
        assert up.most_open == 2 and len(up.requests) == 8
        # Full of idle connections to the first host: the second gets one by closing one.
        assert (await transport.request(post(other.url()))).status == 200
        assert up.open <= 1 or await _settles(lambda: up.open <= 1)
    await transport.aclose()


async def _settles(check: Callable[[], bool]) -> bool:
    for _ in range(300):
        if check():
            return True
        await asyncio.sleep(0.01)
    return False


async def test_aclose_closes_idle_and_busy_connections() -> None:
    async def handler(up: Upstream, reader: Any, writer: Any, n: int) -> None:
        await up.request(reader, n)
        if n == 0:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart")
        else:
            writer.write(answer())
        await reader.read()

    transport = HttpTransport(retry=FAST)
    # The stream's connection is busy (its body still coming) while the second one is idle.
    async with Upstream(handler) as up, transport.stream(post(up.url())) as stream:
        await transport.request(post(up.url()))  # a second connection, idle after this
        assert up.open == 2
        await transport.aclose()
        await up.wait_closed_by_client()
        with pytest.raises(APIConnectionError, match="broke while reading"):
            await stream.read(1000)


# -- answers --------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate"])
async def test_compressed_chunked_bodies_are_inflated(
    transport: HttpTransport, encoding: str
) -> None:
    body = b'{"text": "' + b"inflate me " * 5000 + b'"}'
    if encoding == "gzip":
        packed = gzip.compress(body)
    elif encoding == "deflate":
        packed = zlib.compress(body)
    else:
        squeeze = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        packed = squeeze.compress(body) + squeeze.flush()
    name = "deflate" if encoding == "raw-deflate" else encoding
    async with Upstream(keep_alive(chunked(packed, 100, (f"Content-Encoding: {name}",)))) as up:
        for _ in range(2):
            response = await transport.request(post(up.url()))
            assert response.body == body
        assert up.connections == 1  # read to its end (and flushed): reused


async def test_the_size_limit_counts_inflated_bytes() -> None:
    body = b"0" * 1_000_000  # inflates 1000x: under the limit on the wire, far over it inflated
    packed = gzip.compress(body)
    assert len(packed) < 4096
    transport = HttpTransport(retry=FAST, max_body=64 * 1024)
    async with Upstream(keep_alive(answer(packed, headers=("Content-Encoding: gzip",)))) as up:
        with pytest.raises(APIResponseValidationError, match="65536-byte limit"):
            await transport.request(post(up.url()))
    await transport.aclose()


@pytest.mark.parametrize(
    "body", [b"not gzip at all", gzip.compress(b"x" * 1000)[:-12]], ids=["garbage", "cut-off"]
)
async def test_a_corrupt_compressed_body_is_a_connection_error(
    transport: HttpTransport, body: bytes
) -> None:
    broken = answer(body, headers=("Content-Encoding: gzip",))
    async with Upstream(keep_alive(broken)) as up:
        with pytest.raises(APIConnectionError, match="compressed body is corrupt"):
            await transport.request(post(up.url(), max_retries=0))


async def test_a_body_read_until_close(transport: HttpTransport) -> None:
    async def handler(up: Upstream, reader: Any, writer: Any, n: int) -> None:
        await up.request(reader, n)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n" + OK_BODY)
        await writer.drain()

    async with Upstream(handler) as up:
        for _ in range(2):
            assert (await transport.request(post(up.url()))).json() == {"ok": True}
        assert up.connections == 2


async def test_informational_answers_are_skipped(transport: HttpTransport) -> None:
    early = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
    async with Upstream(keep_alive(early + answer(headers=("X-Final: yes",)))) as up:
        response = await transport.request(post(up.url()))
        assert response.status == 200 and response.json() == {"ok": True}
        assert response.headers["x-final"] == "yes" and "link" not in response.headers


async def test_headers_are_a_case_insensitive_multidict(transport: HttpTransport) -> None:
    response_bytes = answer(headers=("Set-Cookie: a=1", "set-cookie: b=2", "Retry-After: 3"))
    async with Upstream(keep_alive(response_bytes)) as up:
        response = await transport.request(post(up.url()))
        headers: Any = response.headers
        assert headers.getall("SET-COOKIE") == ["a=1", "b=2"]
        assert headers["retry-after"] == "3"


async def test_an_oversized_head_is_refused(transport: HttpTransport) -> None:
    huge = answer(headers=tuple(f"X-Pad-{i}: {'p' * 1000}" for i in range(MAX_HEAD // 1000 + 2)))
    async with Upstream(keep_alive(huge)) as up:
        with pytest.raises(APIConnectionError, match=f"headers exceed {MAX_HEAD} bytes"):
            await transport.request(post(up.url(), max_retries=0))
        await up.wait_closed_by_client()


async def test_a_malformed_answer_is_a_connection_error(transport: HttpTransport) -> None:
    async with Upstream(keep_alive(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n")) as up:
        with pytest.raises(APIConnectionError, match="malformed HTTP answer"):
            await transport.request(post(up.url(), max_retries=0))


async def test_a_redirect_is_followed(transport: HttpTransport) -> None:
    async def handler(up: Upstream, reader: Any, writer: Any, n: int) -> None:
        while (head := await up.request(reader, n)) is not None:
            if head.startswith(b"POST /v1/x "):
                writer.write(
                    answer(b"", status="307 Temporary Redirect", headers=("Location: /v1/y",))
                )
            else:
                writer.write(answer(b'{"where": "y"}'))

    async with Upstream(handler) as up:
        assert (await transport.request(post(up.url()))).json() == {"where": "y"}
        request = post(up.url())
        request.follow_redirects = False
        response = await transport.request(request)
        assert response.status == 307 and response.headers["location"] == "/v1/y"


# -- requests -------------------------------------------------------------------------------------


async def test_a_head_built_once_is_the_head_built_afresh(transport: HttpTransport) -> None:
    """The pool keeps the heads it built by method, URL and headers: what it sends from that
    store must be what building the head anew gives, and a header that changed is sent as
    it is now."""
    from polymux.transport.h1 import encode_head, framing, target_of
    from polymux.transport.http import USER_AGENT

    async with Upstream(keep_alive(answer())) as up:
        sent: list[dict[str, str]] = []
        for key in ("sk-one", "sk-one", "sk-two", "sk-one"):
            request = post(up.url())
            request.headers = {"Authorization": f"Bearer {key}"}
            await transport.request(request)
            sent.append({"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
        target = target_of(up.url())
        assert target is not None
        for (_, head, body), headers in zip(up.requests, sent):
            assert head == encode_head("POST", target, headers, True, USER_AGENT) + framing(
                "POST", body
            )
        assert [h.count(b"Bearer sk-two") for _, h, _ in up.requests] == [0, 0, 1, 0]


@pytest.mark.parametrize("value", ["a\r\nX-Evil: 1", "a\nX-Evil: 1", "a\rb"])
async def test_a_header_holding_a_line_break_is_refused(
    transport: HttpTransport, value: str
) -> None:
    async with Upstream(keep_alive(answer())) as up:
        request = post(up.url())
        request.headers = {"X-Custom": value}
        with pytest.raises(InvalidRequestError, match="'X-Custom' holds a line break"):
            await transport.request(request)
        assert not up.requests


async def test_ipv6_literal_hosts() -> None:
    try:
        server = Upstream(keep_alive(answer()), host="::1")
        await server.__aenter__()
    except OSError:
        pytest.skip("no IPv6 loopback here")
    transport = HttpTransport(retry=FAST)
    try:
        assert (await transport.request(post(server.url()))).json() == {"ok": True}
        assert f"Host: [::1]:{server.port}\r\n".encode() in server.requests[0][1]
    finally:
        await transport.aclose()
        await server.__aexit__()


# -- time ---------------------------------------------------------------------------------------


async def test_a_body_stalled_past_the_idle_limit(transport: HttpTransport) -> None:
    async def handler(up: Upstream, reader: Any, writer: Any, n: int) -> None:
        await up.request(reader, n)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nstart")
        await reader.read()

    async with Upstream(handler) as up:
        with pytest.raises(APITimeoutError) as info:
            await transport.request(post(up.url(), max_retries=0, timeout=Timeout(idle=0.1)))
        assert info.value.limit == "idle" and info.value.seconds == 0.1
        await up.wait_closed_by_client()


# -- streams --------------------------------------------------------------------------------------


async def test_a_lagging_stream_reader_pauses_the_socket(transport: HttpTransport) -> None:
    """8 MB offered at once to a reader that takes its time: the buffer stays bounded (the
    socket is not read while it is full) and every byte still arrives, in order."""
    body = bytes(range(256)) * (8 * 4096)

    async def handler(up: Upstream, reader: Any, writer: Any, n: int) -> None:
        await up.request(reader, n)
        writer.write(answer(body, headers=("Content-Type: application/octet-stream",)))
        await writer.drain()
        await reader.read()

    async with Upstream(handler) as up:
        got = bytearray()
        most = 0
        async with transport.stream(post(up.url())) as stream:
            response = stream._resp  # type: ignore[attr-defined]
            assert isinstance(response, H1Response)
            async for piece in stream.iter_bytes():
                got += piece
                await asyncio.sleep(0.001)
                most = max(most, response._buffered)
        assert bytes(got) == body
        # At most the high-water mark plus what one read of the socket brings.
        assert most <= HIGH_WATER + 512 * 1024


# -- TLS ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A CA and a certificate it signed for ``localhost``: (ca.pem, cert.pem, key.pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = tmp_path_factory.mktemp("tls")
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "polymux test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


async def test_https_with_sni_and_the_system_trust_rules(
    certificates: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    ca, cert, key = certificates
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))  # the CA is trusted as a system one would be
    names: list[str | None] = []
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    server_context.sni_callback = lambda sock, name, ctx: names.append(name)

    handle = keep_alive(answer())
    up = Upstream(handle)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await up._serve(reader, writer)

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    transport = HttpTransport(retry=FAST)
    try:
        for _ in range(2):
            response = await transport.request(post(f"https://localhost:{port}/v1/x"))
            assert response.json() == {"ok": True}
        assert names == ["localhost"] and up.connections == 1  # SNI sent; kept alive
        assert f"Host: localhost:{port}\r\n".encode() in up.requests[0][1]
        # The certificate names localhost, not 127.0.0.1: refused, as any HTTPS client would.
        with pytest.raises(APIConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
            await transport.request(post(f"https://127.0.0.1:{port}/v1/x", max_retries=0))
    finally:
        await transport.aclose()
        server.close()
        await server.wait_closed()
