"""A short tour of polymux with a provider written in a few lines (no network, no key)."""

import asyncio
from collections.abc import AsyncIterator

from polymux import AsyncClient
from polymux.providers import Provider
from polymux.types import ChatRequest


class Shout(Provider):
    """A custom provider: a model list and one async generator."""

    models = ["shout-1"]

    async def stream_chat(self, request: ChatRequest) -> AsyncIterator[str]:
        for word in str(request.messages[-1]["content"]).upper().split():
            yield word + " "


async def main() -> None:
    async with AsyncClient(provider=Shout) as client:
        response = await client.chat.completions.create(
            model="shout-1", messages=[{"role": "user", "content": "say this is a test"}]
        )
        print(response.choices[0].message.content)
        async for chunk in client.chat.completions.create(
            model="shout-1", messages="streaming works too", stream=True
        ):
            if chunk.choices and chunk.choices[0].delta.content:
                print(chunk.choices[0].delta.content, end="", flush=True)
        print()


asyncio.run(main())
