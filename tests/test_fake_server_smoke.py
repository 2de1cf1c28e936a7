"""The harness itself: a scripted stream over real sockets reaches the polymux transport."""

from polymux.transport import HttpRequest
from polymux.transport.http import HttpTransport

from .fakes import FakeServer, sse_data


async def test_streams_scripted_events_over_a_real_socket() -> None:
    async with FakeServer() as server:
        server.script("POST", "/x", sse_data([{"a": 1}, {"a": 2}]))
        transport = HttpTransport()
        body = b""
        async with transport.stream(
            HttpRequest(method="POST", url=server.url("/x"), json={"q": 1})
        ) as resp:
            async for piece in resp.iter_bytes():
                body += piece
        await transport.aclose()
        assert body == b'data: {"a": 1}\n\ndata: {"a": 2}\n\ndata: [DONE]\n\n'
        assert server.requests[0].json == {"q": 1}
        assert await server.wait_idle()
