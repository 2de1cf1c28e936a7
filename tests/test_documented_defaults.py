"""The documented defaults and rules of retries, backoff, cooldowns and fallback, pinned.

Each test checks a number or rule the docs state (transport/retry.py, routing/health.py,
routing/fallback.py, the README): the retried statuses, the backoff curve, the breaker's
thresholds, what a probe's failure does, and which events count as content.
"""

from __future__ import annotations

import dataclasses
import email.utils
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from polymux import AllProvidersFailedError, AsyncClient, EmptyResponseError
from polymux.providers import Provider
from polymux.routing import InMemoryHealthStore
from polymux.testing import ScriptedProvider
from polymux.transport import DEFAULT_RETRY, RetryPolicy
from polymux.transport.http import HttpTransport
from polymux.types import (
    ChatEvent,
    ChatRequest,
    Finish,
    ReasoningDelta,
    RefusalDelta,
    TextDelta,
    ToolCallDelta,
    WholeChoice,
)

from .fakes import FakeServer
from .fakes.openai import CHAT, error, reply
from .support import Clock

MSGS = [{"role": "user", "content": "hi"}]


@pytest.fixture
async def server() -> AsyncIterator[FakeServer]:
    async with FakeServer() as fake:
        yield fake


# -- retries -------------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
async def test_these_statuses_are_retried(server: FakeServer, status: int) -> None:
    server.script("POST", CHAT, error(status, "try again"), reply("fine"))
    transport = HttpTransport(retry=RetryPolicy(initial_delay=0.001, max_delay=0.002))
    async with AsyncClient(base_url=server.url("/v1"), api_key="k", transport=transport) as c:
        response = await c.chat.completions.create(model="m", messages=MSGS)
    assert response.choices[0].message.content == "fine"
    assert len(server.requests) == 2
    await transport.aclose()


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_these_statuses_are_not_retried(status: int) -> None:
    assert not DEFAULT_RETRY.should_retry_status(status, {})


def test_the_backoff_doubles_from_half_a_second_to_eight(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(random, "random", lambda: 0.0)  # no jitter
    assert [DEFAULT_RETRY.delay(n) for n in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_the_jitter_takes_off_up_to_a_quarter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(random, "random", lambda: 1.0)  # the most jitter there is
    assert [DEFAULT_RETRY.delay(n) for n in (0, 4)] == [0.375, 6.0]
    monkeypatch.setattr(random, "random", lambda: 0.5)
    assert DEFAULT_RETRY.delay(1) == 0.875


# -- cooldowns -----------------------------------------------------------------------------------
async def test_three_failures_in_a_row_open_the_breaker_for_thirty_seconds() -> None:
    clock = Clock()
    health = InMemoryHealthStore(clock=clock)
    for _ in range(2):
        await health.record_failure("p")
    assert await health.wait_time("p") == 0.0
    await health.record_failure("p")
    assert await health.wait_time("p") == 30.0
    clock.now += 29.5
    assert await health.wait_time("p") == 0.5


async def test_a_success_resets_the_count_of_failures() -> None:
    health = InMemoryHealthStore(clock=Clock())
    for _ in range(2):
        await health.record_failure("p")
    await health.record_success("p")
    for _ in range(2):
        await health.record_failure("p")
    assert await health.wait_time("p") == 0.0


async def test_a_rate_limit_cools_down_for_its_retry_after_capped_at_five_minutes() -> None:
    health = InMemoryHealthStore(clock=Clock())
    await health.record_failure("asked", rate_limited=True, retry_after=12.0)
    await health.record_failure("silent", rate_limited=True)
    await health.record_failure("greedy", rate_limited=True, retry_after=3600.0)
    assert await health.wait_time("asked") == 12.0
    assert await health.wait_time("silent") == 30.0
    assert await health.wait_time("greedy") == 300.0


async def test_a_failed_probe_after_a_rate_limit_opens_the_breaker_again() -> None:
    clock = Clock()
    health = InMemoryHealthStore(clock=clock)
    await health.record_failure("p", rate_limited=True, retry_after=10.0)
    clock.now += 10.0
    assert await health.wait_time("p") == 0.0  # half-open: this caller probes
    assert await health.wait_time("p") > 0.0  # and nobody else meanwhile
    # One plain failure (below the threshold of three) is enough for a probe.
    await health.record_failure("p")
    assert await health.wait_time("p") == 30.0


async def test_a_successful_probe_closes_the_breaker() -> None:
    clock = Clock()
    health = InMemoryHealthStore(clock=clock)
    await health.record_failure("p", rate_limited=True, retry_after=10.0)
    clock.now += 10.0
    assert await health.wait_time("p") == 0.0
    await health.record_success("p")
    await health.record_failure("p")  # a fresh count: one failure is not three
    assert await health.wait_time("p") == 0.0


# -- what counts as content for fallback ---------------------------------------------------------
CONTENT: dict[str, ChatEvent] = {
    "text": TextDelta("Hello."),
    "reasoning": ReasoningDelta("Thinking."),
    "refusal": RefusalDelta("I cannot."),
    "plain str": "Hello.",
}
EMPTY: dict[str, ChatEvent] = {
    "text": TextDelta(""),
    "reasoning": ReasoningDelta(""),
    "plain str": "",
}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("kind", CONTENT)
async def test_a_typed_delta_is_content_and_keeps_its_provider(kind: str, stream: bool) -> None:
    first = ScriptedProvider([CONTENT[kind], Finish("stop")], name="first")
    second = ScriptedProvider("from the second", name="second")
    client = AsyncClient(provider=[first, second])
    answer: Any = await client.chat.completions.create(messages="hi", stream=stream)
    provider = [c.provider async for c in answer][-1] if stream else answer.provider
    assert provider == "first"
    assert second.requests == []


@pytest.mark.parametrize("kind", EMPTY)
async def test_an_empty_delta_is_no_content_and_the_next_provider_answers(kind: str) -> None:
    first = ScriptedProvider([EMPTY[kind], Finish("stop")], name="first")
    second = ScriptedProvider("from the second", name="second")
    client = AsyncClient(provider=[first, second])
    response = await client.chat.completions.create(messages="hi")
    assert response.provider == "second"
    assert response.choices[0].message.content == "from the second"
    alone = AsyncClient(provider=ScriptedProvider([EMPTY[kind], Finish("stop")]))
    assert (await alone.chat.completions.create(messages="hi")).choices[0].message.content == ""
    empties = [ScriptedProvider([EMPTY[kind]], name=name) for name in ("a", "b")]
    with pytest.raises(AllProvidersFailedError) as info:
        await AsyncClient(provider=empties).chat.completions.create(messages="hi")
    assert [type(e) for e in info.value.exceptions] == [EmptyResponseError] * 2


async def test_the_breaker_settings_accept_zero_and_refuse_negatives() -> None:
    never = InMemoryHealthStore(failure_threshold=0, cooldown=0, max_cooldown=0, clock=Clock())
    for _ in range(10):  # 0: never opened by a count of failures
        await never.record_failure("p")
    assert await never.wait_time("p") == 0.0
    with pytest.raises(ValueError, match="negative"):
        InMemoryHealthStore(failure_threshold=-1)
    with pytest.raises(ValueError, match="negative"):
        InMemoryHealthStore(cooldown=-1)
    with pytest.raises(ValueError, match="negative"):
        InMemoryHealthStore(max_cooldown=-1)
    with pytest.raises(ValueError, match="negative"):
        InMemoryHealthStore(probe_timeout=0)


async def test_below_the_threshold_every_caller_may_try() -> None:
    health = InMemoryHealthStore(clock=Clock())
    await health.record_failure("p")
    assert [await health.wait_time("p") for _ in range(3)] == [0.0, 0.0, 0.0]


async def test_a_probe_is_held_for_a_minute_then_handed_on_or_given_back() -> None:
    clock = Clock()
    health = InMemoryHealthStore(clock=clock)
    for _ in range(3):
        await health.record_failure("p")
    clock.now += 30.0
    assert await health.wait_time("p") == 0.0  # the probe
    clock.now += 20.0
    assert await health.wait_time("p") == 40.0  # the probe's minute is not over
    clock.now += 40.0
    assert await health.wait_time("p") == 0.0  # forgotten: a new probe
    await health.release("p")  # that caller gave it back without a verdict
    assert await health.wait_time("p") == 0.0
    assert "cooling=[]" in repr(health)


async def test_a_probe_held_for_its_whole_timeout_is_handed_to_the_next_caller() -> None:
    clock = Clock()
    health = InMemoryHealthStore(probe_timeout=1.0, clock=clock)  # a second is a valid timeout
    for _ in range(3):
        await health.record_failure("p")
    clock.now += 30.0
    assert await health.wait_time("p") == 0.0  # the probe
    clock.now += 1.0  # exactly the probe's timeout: it is forgotten
    assert await health.wait_time("p") == 0.0  # this caller probes now
    assert await health.wait_time("p") == 1.0  # and holds it for a whole timeout again


async def test_the_breaker_is_closed_for_the_repr_the_moment_its_cooldown_ends() -> None:
    clock = Clock()
    health = InMemoryHealthStore(clock=clock)
    await health.record_failure("p", rate_limited=True, retry_after=10.0)
    clock.now += 9.5
    assert repr(health) == "<InMemoryHealthStore cooling=['p']>"
    clock.now += 0.5
    assert repr(health) == "<InMemoryHealthStore cooling=[]>"


async def test_the_repr_names_the_providers_cooling_down() -> None:
    health = InMemoryHealthStore(clock=Clock())
    await health.record_failure("slow", rate_limited=True)
    await health.record_failure("fine")
    assert repr(health) == "<InMemoryHealthStore cooling=['slow']>"


# -- which failures move on to the next provider -------------------------------------------------
@pytest.mark.parametrize("status", [408, 409, 429, 500, 503])
async def test_these_statuses_move_on_to_the_next_provider(status: int) -> None:
    from polymux.errors import status_error

    failing = ScriptedProvider(status_error(status, "no", provider="a"), name="a")
    second = ScriptedProvider("from b", name="b")
    response = await AsyncClient(provider=[failing, second]).chat.completions.create(messages="hi")
    assert response.provider == "b"


@pytest.mark.parametrize("status", [400, 401, 404, 422])
async def test_these_statuses_end_the_call(status: int) -> None:
    from polymux.errors import APIStatusError, status_error

    failing = ScriptedProvider(status_error(status, "no", provider="a"), name="a")
    second = ScriptedProvider("from b", name="b")
    with pytest.raises(APIStatusError):
        await AsyncClient(provider=[failing, second]).chat.completions.create(messages="hi")
    assert second.requests == []


class _Whole(Provider):
    """A provider with a native non-streamed answer."""

    def __init__(self, name: str, text: str) -> None:
        super().__init__()
        self.name = name
        self.text = text

    async def stream_chat(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        yield self.text

    async def complete_chat(self, request: ChatRequest) -> list[ChatEvent]:
        return [WholeChoice(text=self.text, finish="stop")]


async def test_a_whole_answer_with_content_keeps_its_provider_and_an_empty_one_moves_on() -> None:
    client = AsyncClient(provider=[_Whole("a", "from a"), _Whole("b", "from b")])
    assert (await client.chat.completions.create(messages="hi")).provider == "a"
    client = AsyncClient(provider=[_Whole("a", ""), _Whole("b", "from b")])
    assert (await client.chat.completions.create(messages="hi")).provider == "b"


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
async def test_a_tool_call_alone_is_content(stream: bool) -> None:
    call = ToolCallDelta(call_index=0, id="call_1", name="lookup", arguments="{}")
    first = ScriptedProvider([call, Finish("tool_calls")], name="first")
    second = ScriptedProvider("from the second", name="second")
    client = AsyncClient(provider=[first, second])
    answer: Any = await client.chat.completions.create(messages="hi", stream=stream)
    provider = [c.provider async for c in answer][-1] if stream else answer.provider
    assert provider == "first"


# -- the server's word on retrying ---------------------------------------------------------------
def test_the_servers_retry_after_is_honoured_up_to_a_minute() -> None:
    assert DEFAULT_RETRY.delay(0, {"retry-after-ms": "1500"}) == 1.5
    assert DEFAULT_RETRY.delay(3, {"retry-after": "2"}) == 2.0
    assert DEFAULT_RETRY.delay(0, {"retry-after": "0"}) == 0.0
    assert DEFAULT_RETRY.delay(0, {"retry-after": "60"}) == 60.0
    assert DEFAULT_RETRY.delay(0, {"retry-after": "61"}) is None  # too long: not retried


def test_a_retry_after_date_is_honoured_and_one_in_the_past_means_now() -> None:
    assert DEFAULT_RETRY.delay(0, {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    soon = email.utils.formatdate(time.time() + 30, usegmt=True)
    delay = DEFAULT_RETRY.delay(0, {"retry-after": soon})
    assert delay is not None and 20.0 <= delay <= 30.0  # whole seconds, less the time since


def test_x_should_retry_overrides_the_status() -> None:
    assert DEFAULT_RETRY.should_retry_status(400, {"x-should-retry": "true"})
    assert DEFAULT_RETRY.should_retry_status(503, {"x-should-retry": "false"}) is False
    assert DEFAULT_RETRY.should_retry_status(503, {"x-should-retry": "maybe"})


def test_the_shared_default_policy_cannot_be_changed_in_place() -> None:
    # Every transport without a policy of its own uses this one object.
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_RETRY.max_delay = 1.0  # type: ignore[misc]
    delay = RetryPolicy(max_delay=1.0).delay(5)  # a policy of one's own instead
    assert delay is not None and delay <= 1.0
