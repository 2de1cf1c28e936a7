"""Fallback, cooldowns, limits, hedging and the total deadline, with in-process providers."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator

import pytest

from polymux import (
    AllProvidersFailedError,
    APITimeoutError,
    AsyncClient,
    BadRequestError,
    InternalServerError,
    IterListProvider,
    MissingCredentialsError,
    RateLimitError,
    RetryProvider,
    Timeout,
)
from polymux.errors import ProviderCooldownError
from polymux.routing import InMemoryHealthStore, RoutingOptions
from polymux.routing import RetryProvider as RoutingRetryProvider
from polymux.testing import FunctionProvider, ScriptedProvider
from polymux.types import ChatEvent, ChatRequest

from .support import Clock


def busy(retry_after: float | None = None) -> RateLimitError:
    return RateLimitError("busy", status_code=429, retry_after=retry_after)


def down() -> InternalServerError:
    return InternalServerError("down", status_code=503)


def other_tasks() -> set[asyncio.Task[object]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}


# -- lists -----------------------------------------------------------------------------------------


async def test_retry_provider_tries_in_order_and_names_who_answered() -> None:
    assert RetryProvider is RoutingRetryProvider
    a = ScriptedProvider(busy(), name="a")
    b = ScriptedProvider(down(), name="b")
    c = ScriptedProvider("from c", name="c")
    client = AsyncClient(provider=RetryProvider([a, b, c], shuffle=False))
    response = await client.chat.completions.create(messages="hi")
    assert response.provider == "c"
    assert response.choices[0].message.content == "from c"
    assert (len(a.requests), len(b.requests), len(c.requests)) == (1, 1, 1)
    # A list, an IterListProvider and a per-call provider= behave alike.
    for spec in ([a, c], IterListProvider([a, c], shuffle=False)):
        response = await AsyncClient().chat.completions.create(messages="hi", provider=spec)
        assert response.provider == "c"


async def test_shuffle_reorders_each_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(random, "shuffle", lambda items: items.reverse())
    a, b = ScriptedProvider("a", name="a"), ScriptedProvider("b", name="b")
    shuffled = AsyncClient(provider=RetryProvider([a, b]))  # the seed's default: shuffle=True
    assert (await shuffled.chat.completions.create(messages="hi")).provider == "b"
    ordered = AsyncClient(provider=RetryProvider([a, b], shuffle=False))
    assert (await ordered.chat.completions.create(messages="hi")).provider == "a"
    client = AsyncClient(provider=[a, b], routing=RoutingOptions(shuffle=True))
    assert (await client.chat.completions.create(messages="hi")).provider == "b"


async def test_a_bad_request_is_not_retried_elsewhere_unless_asked() -> None:
    bad = BadRequestError("unsupported parameter", status_code=400)
    a = ScriptedProvider(bad, name="a")
    b = ScriptedProvider("from b", name="b")
    with pytest.raises(BadRequestError):
        await AsyncClient(provider=[a, b]).chat.completions.create(messages="hi")
    assert b.requests == []
    lenient = RetryProvider([a, b], shuffle=False, fallback_on_status={400, 422})
    response = await AsyncClient(provider=lenient).chat.completions.create(messages="hi")
    assert response.provider == "b"


async def test_missing_credentials_and_empty_answers_move_on() -> None:
    class Keyed(ScriptedProvider):
        requires_api_key = True
        api_key_env = ("ROUTING_TEST_NO_SUCH_KEY",)

        async def stream_chat(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
            self.require_api_key()
            yield "never"

    empty = ScriptedProvider([], name="empty")
    answer = ScriptedProvider("ok", name="answer")
    client = AsyncClient(provider=[Keyed(name="keyed"), empty, answer])
    response = await client.chat.completions.create(messages="hi")
    assert response.provider == "answer"
    with pytest.raises(AllProvidersFailedError) as info:
        await AsyncClient(provider=[Keyed(name="keyed"), empty]).chat.completions.create(
            messages="hi"
        )
    kinds = [(name, type(err).__name__) for name, err in info.value.errors]
    assert kinds == [("keyed", "MissingCredentialsError"), ("empty", "EmptyResponseError")]
    assert isinstance(info.value.errors[0][1], MissingCredentialsError)
    # Alone, a provider's empty answer is its answer.
    alone = await AsyncClient(provider=empty).chat.completions.create(messages="hi")
    assert alone.choices[0].message.content in ("", None)


async def test_errors_after_content_reach_the_caller_without_fallback() -> None:
    a = ScriptedProvider(["partial ", down()], name="a")
    b = ScriptedProvider("from b", name="b")
    stream = AsyncClient(provider=[a, b]).chat.completions.create(messages="hi", stream=True)
    seen: list[str | None] = []

    async def read() -> None:
        async for chunk in stream:
            seen.append(chunk.choices[0].delta.content if chunk.choices else None)

    with pytest.raises(InternalServerError):
        await read()
    assert "partial " in seen
    assert b.requests == []


async def test_all_failed_carries_each_failure_in_order_and_logs_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    a, b = ScriptedProvider(busy(), name="a"), ScriptedProvider(down(), name="b")
    c = ScriptedProvider("ok", name="c")
    with caplog.at_level(logging.DEBUG, logger="polymux.routing"):
        with pytest.raises(AllProvidersFailedError) as info:
            await AsyncClient(provider=[a, b]).chat.completions.create(messages="hi")
        await AsyncClient(provider=[a, b, c]).chat.completions.create(messages="hi")
    assert [(n, type(e)) for n, e in info.value.errors] == [
        ("a", RateLimitError),
        ("b", InternalServerError),
    ]
    answered = [r.getMessage() for r in caplog.records if "answered" in r.getMessage()]
    assert answered and "c answered" in answered[-1]
    assert "a: RateLimitError" in answered[-1] and "b: InternalServerError" in answered[-1]


# -- health ----------------------------------------------------------------------------------------


async def test_a_429_cools_the_provider_down_for_its_retry_after_then_half_opens() -> None:
    clock = Clock()
    a = ScriptedProvider(busy(retry_after=10), "a again", name="a")
    b = ScriptedProvider("b", name="b")
    client = AsyncClient(provider=[a, b], health=InMemoryHealthStore(clock=clock))
    assert (await client.chat.completions.create(messages="hi")).provider == "b"
    clock.now += 5
    assert (await client.chat.completions.create(messages="hi")).provider == "b"
    assert len(a.requests) == 1  # skipped while cooling down
    clock.now += 6
    assert (await client.chat.completions.create(messages="hi")).provider == "a"
    assert len(a.requests) == 2


async def test_consecutive_failures_open_the_breaker_and_a_failed_probe_reopens_it() -> None:
    clock = Clock()
    health = InMemoryHealthStore(failure_threshold=2, cooldown=30, clock=clock)
    a = ScriptedProvider(down(), down(), down(), "recovered", name="a")
    b = ScriptedProvider("b", name="b")
    client = AsyncClient(provider=[a, b], health=health)
    for _ in range(3):
        assert (await client.chat.completions.create(messages="hi")).provider == "b"
    assert len(a.requests) == 2  # the third call skipped it
    clock.now += 31  # half-open: one probe, which fails
    assert (await client.chat.completions.create(messages="hi")).provider == "b"
    assert len(a.requests) == 3
    clock.now += 1
    await client.chat.completions.create(messages="hi")
    assert len(a.requests) == 3  # open again
    clock.now += 30
    assert (await client.chat.completions.create(messages="hi")).provider == "a"
    assert await health.wait_time("a") == 0.0  # closed


async def test_answers_that_break_off_count_against_the_provider_and_early_closes_do_not() -> None:
    clock = Clock()
    health = InMemoryHealthStore(failure_threshold=2, cooldown=30, clock=clock)
    a = ScriptedProvider(["partial ", "answer"], name="a")
    client = AsyncClient(provider=[a, ScriptedProvider("b", name="b")], health=health)
    for _ in range(3):  # the caller stops reading: not the provider's fault
        async for _chunk in client.chat.completions.create(messages="hi", stream=True):
            break
    assert await health.wait_time("a") == 0.0
    a = ScriptedProvider(["partial ", down()], name="a")
    client = AsyncClient(provider=[a, ScriptedProvider("b", name="b")], health=health)
    with pytest.raises(InternalServerError):  # streamed: the error reaches the caller...
        async for _chunk in client.chat.completions.create(messages="hi", stream=True):
            pass
    with pytest.raises(InternalServerError):  # ...and so it does without streaming
        await client.chat.completions.create(messages="hi")
    assert await health.wait_time("a") == pytest.approx(30)  # two failures: cooling down
    assert (await client.chat.completions.create(messages="hi")).provider == "b"
    assert len(a.requests) == 2


async def test_half_open_lets_one_probe_through_at_a_time() -> None:
    clock = Clock()
    health = InMemoryHealthStore(clock=clock)
    await health.record_failure("a", rate_limited=True, retry_after=5)
    assert await health.wait_time("a") == pytest.approx(5)
    clock.now += 6
    assert await health.wait_time("a") == 0.0  # this caller probes
    assert await health.wait_time("a") > 0  # the others wait
    await health.release("a")  # the probe was cancelled: someone else may probe
    assert await health.wait_time("a") == 0.0
    await health.record_success("a")
    assert await health.wait_time("a") == 0.0 and await health.wait_time("a") == 0.0


async def test_slow_probe_does_not_block_others_past_its_timeout() -> None:
    clock = Clock()
    health = InMemoryHealthStore(clock=clock, probe_timeout=10)
    await health.record_failure("a", rate_limited=True, retry_after=1)
    clock.now += 2
    assert await health.wait_time("a") == 0.0
    clock.now += 11
    assert await health.wait_time("a") == 0.0


async def test_retry_after_is_capped_and_bad_settings_are_refused() -> None:
    clock = Clock()
    health = InMemoryHealthStore(clock=clock, max_cooldown=60)
    await health.record_failure("a", rate_limited=True, retry_after=86400)
    assert await health.wait_time("a") == pytest.approx(60)
    with pytest.raises(ValueError, match="negative"):
        InMemoryHealthStore(cooldown=-1)


async def test_a_lone_provider_is_never_skipped_and_all_cooling_fails_fast() -> None:
    clock = Clock()
    health = InMemoryHealthStore(clock=clock)
    a = ScriptedProvider(busy(retry_after=30), "a", name="a")
    b = ScriptedProvider(busy(retry_after=20), "b", name="b")
    client = AsyncClient(provider=[a, b], health=health)
    with pytest.raises(AllProvidersFailedError):
        await client.chat.completions.create(messages="hi")
    with pytest.raises(AllProvidersFailedError) as info:
        await client.chat.completions.create(messages="hi")
    errors = info.value.errors
    assert [n for n, _ in errors] == ["a", "b"]
    assert all(isinstance(e, ProviderCooldownError) for _, e in errors)
    assert [round(e.retry_after) for _, e in errors] == [30, 20]  # type: ignore[attr-defined]
    assert (len(a.requests), len(b.requests)) == (1, 1)
    # The same client, asked to use only a: it is tried (nothing to route around).
    response = await client.chat.completions.create(messages="hi", provider=a)
    assert response.provider == "a"


async def test_400s_and_cancellations_do_not_count_against_health() -> None:
    clock = Clock()
    health = InMemoryHealthStore(failure_threshold=1, clock=clock)
    bad = BadRequestError("no", status_code=400)
    a = ScriptedProvider(bad, name="a")
    client = AsyncClient(provider=[a, ScriptedProvider("b", name="b")], health=health)
    with pytest.raises(BadRequestError):
        await client.chat.completions.create(messages="hi")
    assert await health.wait_time("a") == 0.0


# -- concurrency limits ----------------------------------------------------------------------------


async def test_concurrency_limit_per_provider_and_slots_come_back_on_early_close() -> None:
    running = 0
    peak = 0

    async def answer(request: ChatRequest) -> AsyncIterator[str]:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        try:
            for piece in ("a", "b", "c"):
                await asyncio.sleep(0.01)
                yield piece
        finally:
            running -= 1

    provider = FunctionProvider(answer, name="limited")
    client = AsyncClient(provider=provider, concurrency={"limited": 2})
    results = await asyncio.gather(
        *(client.chat.completions.create(messages="hi") for _ in range(6))
    )
    assert all(r.choices[0].message.content == "abc" for r in results)
    assert peak == 2
    # Leaving streams early gives their slots back: later calls are not stuck.
    for _ in range(3):
        stream = client.chat.completions.create(messages="hi", stream=True)
        async for _chunk in stream:
            break
        await stream.aclose()
    done = await asyncio.wait_for(client.chat.completions.create(messages="hi"), 2)
    assert done.choices[0].message.content == "abc"


def test_bad_concurrency_settings_are_configuration_errors() -> None:
    from polymux import ConfigurationError

    for bad in (0, -1, {"x": 0}, "3", True):
        with pytest.raises(ConfigurationError):
            AsyncClient(concurrency=bad)  # type: ignore[arg-type]


# -- total deadline --------------------------------------------------------------------------------


async def test_the_total_deadline_spans_fallbacks() -> None:
    a = ScriptedProvider([down()], name="a", delay=0.05)
    b = ScriptedProvider(["late"], name="b", delay=5)
    client = AsyncClient(provider=[a, b], timeout=Timeout(total=0.3))
    with pytest.raises(APITimeoutError) as info:
        await client.chat.completions.create(messages="hi")
    assert info.value.limit == "total"
    assert isinstance(info.value.__cause__, AllProvidersFailedError)
    assert [n for n, _ in info.value.__cause__.errors] == ["a"]
    assert b.closed_early == 1 and b.active == 0
    assert not other_tasks()


async def test_the_total_deadline_bounds_a_lone_provider_too() -> None:
    slow = ScriptedProvider(["late"], delay=5)
    with pytest.raises(APITimeoutError) as info:
        await AsyncClient(provider=slow, timeout=0.1).chat.completions.create(messages="hi")
    assert info.value.limit == "total" and info.value.__cause__ is None
    assert slow.active == 0


# -- hedging ---------------------------------------------------------------------------------------


async def test_hedging_starts_the_next_provider_and_cancels_the_loser() -> None:
    slow = ScriptedProvider(["slow"], name="slow", delay=5)
    fast = ScriptedProvider(["fast ", "answer"], name="fast")
    client = AsyncClient(provider=RetryProvider([slow, fast], shuffle=False, hedge_after=0.05))
    response = await client.chat.completions.create(messages="hi")
    assert response.provider == "fast"
    assert response.choices[0].message.content == "fast answer"
    assert slow.closed_early == 1 and slow.active == 0
    assert not other_tasks()


async def test_hedging_waits_for_the_first_provider_when_it_is_quick() -> None:
    quick = ScriptedProvider(["quick"], name="quick", delay=0.01)
    spare = ScriptedProvider("spare", name="spare")
    client = AsyncClient(provider=[quick, spare], routing=RoutingOptions(hedge_after=1.0))
    stream = client.chat.completions.create(messages="hi", stream=True)
    assert (await stream.collect_text()) == "quick"
    assert spare.requests == []
    assert not other_tasks()


async def test_hedging_moves_on_at_once_when_a_provider_fails_and_reports_all_failures() -> None:
    a = ScriptedProvider(down(), name="a")
    b = ScriptedProvider("b", name="b")
    client = AsyncClient(provider=[a, b], routing=RoutingOptions(hedge_after=30))
    response = await asyncio.wait_for(client.chat.completions.create(messages="hi"), 5)
    assert response.provider == "b"
    c = ScriptedProvider([busy()], name="c", delay=0.02)
    with pytest.raises(AllProvidersFailedError) as info:
        await AsyncClient(
            provider=[c, a], routing=RoutingOptions(hedge_after=0)
        ).chat.completions.create(messages="hi")
    assert [n for n, _ in info.value.errors] == ["c", "a"]  # list order, not finishing order
    assert not other_tasks()


async def test_hedging_stops_on_an_error_another_provider_would_not_fix() -> None:
    bad = ScriptedProvider(BadRequestError("no", status_code=400), name="bad")
    slow = ScriptedProvider(["slow"], name="slow", delay=5)
    client = AsyncClient(provider=[slow, bad], routing=RoutingOptions(hedge_after=0.01))
    with pytest.raises(BadRequestError):
        await client.chat.completions.create(messages="hi")
    assert slow.closed_early == 1 and slow.active == 0
    assert not other_tasks()


# -- cancellation ----------------------------------------------------------------------------------


async def test_cancelling_the_caller_closes_the_provider_stream_during_fallback() -> None:
    a = ScriptedProvider(down(), name="a")
    b = ScriptedProvider(["x", "y", "z"], name="b", delay=0.05)
    client = AsyncClient(provider=[a, b])
    started = asyncio.Event()

    async def consume() -> None:
        async for _chunk in client.chat.completions.create(messages="hi", stream=True):
            started.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert b.closed_early == 1 and b.active == 0
    assert not other_tasks()


async def test_cancelling_a_hedged_call_cancels_every_attempt() -> None:
    a = ScriptedProvider(["a"], name="a", delay=5)
    b = ScriptedProvider(["b"], name="b", delay=5)
    client = AsyncClient(provider=[a, b], routing=RoutingOptions(hedge_after=0.01))
    task = asyncio.create_task(client.chat.completions.create(messages="hi"))
    while len(b.requests) == 0:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (a.active, b.active) == (0, 0)
    assert (a.closed_early, b.closed_early) == (1, 1)
    assert not other_tasks()
