"""Leaving an answer ends its provider's side at once: a stream the caller closes is closed
upstream before ``aclose()`` returns (not later, by the garbage collector), and a concurrency
slot comes back whether the answer was streamed or whole."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from polymux import AsyncClient
from polymux.providers import Provider
from polymux.routing.fallback import completed
from polymux.types import ChatEvent, ChatRequest, WholeChoice


class Recorded(Provider):
    """Streams three pieces and notes when its stream was closed; answers whole natively
    too (``complete_chat``)."""

    def __init__(self, name: str = "recorded") -> None:
        super().__init__()
        self.name = name
        self.closed = 0

    async def stream_chat(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        try:
            for piece in ("a", "b", "c"):
                yield piece
        finally:
            self.closed += 1

    async def complete_chat(self, request: ChatRequest) -> list[ChatEvent]:
        return [WholeChoice(text="abc", finish="stop")]


@pytest.mark.parametrize("limited", [False, True], ids=["unlimited", "limited"])
async def test_closing_a_stream_closes_the_providers_stream_before_it_returns(
    limited: bool,
) -> None:
    provider = Recorded()
    client = AsyncClient(provider=provider, concurrency={"recorded": 1} if limited else None)
    for calls in (1, 2):
        stream = client.chat.completions.create(messages="hi", stream=True)
        async for _chunk in stream:
            break
        assert provider.closed == calls - 1  # still open while the caller holds it
        await stream.aclose()
        assert provider.closed == calls


async def test_a_whole_answer_gives_its_concurrency_slot_back() -> None:
    client = AsyncClient(provider=Recorded(), concurrency={"recorded": 1})
    for _ in range(3):  # one slot: a slot kept by the first call would stall the second
        answer = await asyncio.wait_for(client.chat.completions.create(messages="hi"), 5)
        assert answer.choices[0].message.content == "abc"


async def test_a_whole_answer_in_any_sequence_is_held_as_a_list_by_its_selection() -> None:
    # A unit test of the selection: complete_chat may return any sequence (a tuple here).
    answer = (WholeChoice(text="abc", finish="stop"),)
    selection = completed(Recorded(), answer, require_content=True)
    async with selection as entered:
        assert entered is selection
        assert selection.held == list(answer)
