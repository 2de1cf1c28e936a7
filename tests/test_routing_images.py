"""Image generation goes through the router like chat: fallback, cooldowns, limits, deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from polymux import (
    AllProvidersFailedError,
    APITimeoutError,
    AsyncClient,
    BadRequestError,
    InternalServerError,
    RateLimitError,
    Timeout,
)
from polymux.providers import Provider
from polymux.routing import InMemoryHealthStore
from polymux.types import ImageRequest

from .support import Clock

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


class Painter(Provider):
    """An image provider that plays outcomes in order (the last repeats) and counts calls."""

    def __init__(self, name: str, *outcomes: bytes | Exception, delay: float = 0.0) -> None:
        super().__init__()
        self.name = name
        self._outcomes = list(outcomes)
        self._delay = delay
        self.calls = 0
        self.running = 0
        self.most_at_once = 0

    async def generate_images(self, request: ImageRequest) -> Sequence[bytes]:
        self.calls += 1
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            if self._delay:
                await asyncio.sleep(self._delay)
            outcome = self._outcomes.pop(0) if len(self._outcomes) > 1 else self._outcomes[0]
            if isinstance(outcome, Exception):
                raise outcome
            return [outcome] * request.n
        finally:
            self.running -= 1


async def test_a_failing_image_provider_falls_back_and_cools_down() -> None:
    clock = Clock()
    a = Painter("a", RateLimitError("busy", status_code=429, retry_after=30), PNG)
    b = Painter("b", PNG)
    client = AsyncClient(image_provider=[a, b], health=InMemoryHealthStore(clock=clock))
    first = await client.images.generate(prompt="cat", response_format="b64_json")
    assert first.provider == "b"
    second = await client.images.generate(prompt="cat", response_format="b64_json")
    assert second.provider == "b"
    assert a.calls == 1  # skipped while cooling down after its 429
    clock.now += 31
    third = await client.images.generate(prompt="cat", response_format="b64_json")
    assert third.provider == "a"


async def test_a_bad_image_request_is_not_retried_elsewhere() -> None:
    a = Painter("a", BadRequestError("no", status_code=400))
    b = Painter("b", PNG)
    client = AsyncClient(image_provider=[a, b])
    with pytest.raises(BadRequestError):
        await client.images.generate(prompt="cat")
    assert b.calls == 0


async def test_all_image_providers_failing_reports_each() -> None:
    a = Painter("a", InternalServerError("down", status_code=503))
    b = Painter("b", InternalServerError("down too", status_code=502))
    client = AsyncClient(image_provider=[a, b])
    with pytest.raises(AllProvidersFailedError) as info:
        await client.images.generate(prompt="cat")
    assert [name for name, _ in info.value.errors] == ["a", "b"]


async def test_concurrency_limit_holds_for_image_calls() -> None:
    painter = Painter("p", PNG, delay=0.05)
    painter.images_per_call = 1
    client = AsyncClient(image_provider=painter, concurrency={"p": 2})
    response = await client.images.generate(prompt="cat", n=6, response_format="b64_json")
    assert len(response.data) == 6
    assert painter.most_at_once == 2


async def test_the_total_deadline_bounds_image_generation() -> None:
    slow = Painter("slow", PNG, delay=5)
    client = AsyncClient(image_provider=slow, timeout=Timeout(total=0.2))
    with pytest.raises(APITimeoutError) as info:
        await client.images.generate(prompt="cat")
    assert info.value.limit == "total"
    assert slow.running == 0  # the call was cancelled, not left running
