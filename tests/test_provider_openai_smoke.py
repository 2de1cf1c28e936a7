"""OpenAI-compatible provider against the fake host: the basic paths, end to end."""

from openai.types.chat import ChatCompletion as OpenAIChatCompletion
from openai.types.chat import ChatCompletionChunk as OpenAIChunk

import polymux
from polymux import AsyncClient

from .fakes import FakeServer
from .fakes.openai import CHAT, reply, stream_text


async def test_non_streaming_round_trip_sends_openai_body_and_bearer_key() -> None:
    async with (
        FakeServer() as server,
        AsyncClient(base_url=server.url("/v1"), api_key="sk-test") as client,
    ):
        server.script("POST", CHAT, reply("Hi there"))
        response = await client.chat.completions.create(
            model="m1", messages="hello", temperature=0.5
        )
        assert response.choices[0].message.content == "Hi there"
        assert response.usage is not None and response.usage.prompt_tokens == 12
        assert response.usage.estimated is None
        OpenAIChatCompletion.model_validate(response.model_dump())
        sent = server.requests[0]
        assert sent.headers["Authorization"] == "Bearer sk-test"
        assert sent.headers["User-Agent"] == f"polymux/{polymux.__version__}"
        assert sent.json == {
            "model": "m1",
            "messages": [{"role": "user", "content": "hello"}],
            "temperature": 0.5,
        }


async def test_streaming_yields_pieces_and_provider_usage() -> None:
    async with FakeServer() as server, AsyncClient(base_url=server.url("/v1")) as client:
        server.script("POST", CHAT, stream_text(["Hel", "lo"]))
        stream = await client.chat.completions.create(
            model="m1", messages="hi", stream=True, stream_options={"include_usage": True}
        )
        chunks = [c async for c in stream]
        for c in chunks:
            OpenAIChunk.model_validate(c.model_dump())
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == "Hello"
        assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 9
        assert server.requests[0].json["stream_options"] == {"include_usage": True}
    assert "Authorization" not in server.requests[0].headers
