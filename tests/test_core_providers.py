"""The provider contract: custom providers, g4f-style ones, the test doubles, models, errors."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

import polymux
from polymux import (
    AllProvidersFailedError,
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    Client,
    ConfigurationError,
    ConflictError,
    InternalServerError,
    MissingCredentialsError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnknownProviderError,
    UnprocessableEntityError,
)
from polymux.errors import APIResponseValidationError, status_error
from polymux.providers import Provider
from polymux.testing import FunctionProvider, ScriptedProvider
from polymux.types import ChatEvent, ChatRequest, Finish, ModelsRequest, TextDelta, Usage

SECRET = "sk-live-DO-NOT-SHOW-4f1c9e"
ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "examples" / "quickstart.py"
README = ROOT / "README.md"


# -- custom providers in a few lines ----------------------------------------------------------


class Echo(Provider):
    models = ["echo-1"]

    async def stream_chat(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        yield "you said: " + request.messages[-1]["content"]


async def test_minimal_custom_provider_class_and_instance() -> None:
    for spec in (Echo, Echo()):
        client = AsyncClient(provider=spec)
        response = await client.chat.completions.create(messages="hello")
        assert response.choices[0].message.content == "you said: hello"
        assert response.provider == "Echo"  # the class name, unless it sets one
        assert response.model == "echo-1"  # the provider's default model
        stream = client.chat.completions.create(messages="hi", stream=True)
        assert await stream.collect_text() == "you said: hi"


def readme_block(heading: str) -> str:
    """The first python code block of a README section."""
    section = README.read_text(encoding="utf-8").split(heading, 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


async def test_readme_custom_provider_example_runs_as_written() -> None:
    scope: dict[str, Any] = {}
    exec(readme_block("## Writing a provider"), scope)
    client = scope["client"]
    assert isinstance(client, AsyncClient)
    response = await client.chat.completions.create(messages="make it loud")
    assert response.choices[0].message.content == "MAKE IT LOUD"
    assert response.provider == "Shout"
    assert response.model == "shout-1"
    stream = client.chat.completions.create(messages="and streamed", stream=True)
    assert await stream.collect_text() == "AND STREAMED"


async def test_typed_events_and_native_completion() -> None:
    class Rich(Provider):
        name = "rich"
        models = ["r1"]
        streamed = 0
        completed = 0

        async def stream_chat(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
            self.streamed += 1
            yield TextDelta("streamed")
            yield Usage(prompt_tokens=3, completion_tokens=1)
            yield Finish("length")

        async def complete_chat(self, request: ChatRequest) -> Sequence[ChatEvent]:
            self.completed += 1
            return ["completed", Usage(prompt_tokens=3, completion_tokens=1)]

    provider = Rich()
    client = AsyncClient(provider=provider)
    response = await client.chat.completions.create(messages="x")
    assert response.choices[0].message.content == "completed"
    assert response.choices[0].finish_reason == "stop"
    assert response.usage is not None and response.usage.total_tokens == 4
    chunks = [c async for c in client.chat.completions.create(messages="x", stream=True)]
    assert chunks[-1].choices[0].finish_reason == "length"
    assert (provider.streamed, provider.completed) == (1, 1)


async def test_quickstart_example_runs() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(QUICKSTART),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert "SAY THIS IS A TEST" in out.decode()


async def test_provider_yielding_something_else_is_a_clear_error() -> None:
    client = AsyncClient(provider=FunctionProvider(lambda request: [42]))
    with pytest.raises(APIResponseValidationError, match="yielded int"):
        await client.chat.completions.create(messages="x")
    # Streamed too, and for a list (what a dialect that misread content parts would yield).
    listing = AsyncClient(provider=FunctionProvider(lambda request: [["parts"]]))
    with pytest.raises(APIResponseValidationError, match="yielded list"):
        async for _ in listing.chat.completions.create(messages="x", stream=True):
            pass


# -- g4f-style providers ----------------------------------------------------------------------


class FinishReason:  # what g4f providers yield at the end
    def __init__(self, reason: str) -> None:
        self.reason = reason


class G4FStyle:
    """A custom provider written for g4f, used unchanged."""

    models: ClassVar[list[str]] = ["g4f-model"]
    default_model = "g4f-model"
    working = True
    calls: ClassVar[list[tuple[str, list[dict[str, Any]], dict[str, Any]]]] = []
    closed: ClassVar[list[bool]] = []

    @classmethod
    async def create_async_generator(
        cls, model: str, messages: list[dict[str, Any]], proxy: str | None = None, **kwargs: Any
    ) -> AsyncIterator[Any]:
        cls.calls.append((model, messages, kwargs))
        try:
            for word in ["Hello", " from", " g4f"]:
                yield word
                await asyncio.sleep(0)
            yield FinishReason("length")
        finally:
            cls.closed.append(True)


async def test_g4f_style_provider_works_unchanged() -> None:
    G4FStyle.calls.clear()
    client = AsyncClient(provider=G4FStyle)
    response = await client.chat.completions.create(
        messages=[{"role": "user", "content": "hi"}], temperature=0.2
    )
    assert response.choices[0].message.content == "Hello from g4f"
    assert response.choices[0].finish_reason == "length"
    assert response.provider == "G4FStyle"
    model, messages, kwargs = G4FStyle.calls[0]
    assert model == "g4f-model"
    assert messages == [{"role": "user", "content": "hi"}]
    assert kwargs["temperature"] == 0.2
    chunks = [c async for c in client.chat.completions.create(messages="hi", stream=True)]
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Hello from g4f"
    assert chunks[-1].choices[0].finish_reason == "length"
    assert G4FStyle.calls[1][2]["stream"] is True


async def test_g4f_style_generator_is_closed_on_early_close() -> None:
    G4FStyle.closed.clear()
    client = AsyncClient(provider=G4FStyle)
    async with client.chat.completions.create(messages="hi", stream=True) as stream:
        async for _ in stream:
            break
    assert G4FStyle.closed == [True]


class G4FBroken:
    """A g4f-style provider that fails the way scrapers do: with its own exception."""

    @classmethod
    async def create_async_generator(
        cls, model: str, messages: list[dict[str, Any]], **kwargs: Any
    ) -> AsyncIterator[str]:
        raise RuntimeError("no response from the site")
        yield ""  # pragma: no cover - makes this an async generator


async def test_g4f_style_failures_are_typed_and_fall_back_to_the_next_provider() -> None:
    alone = AsyncClient(provider=G4FBroken)
    with pytest.raises(polymux.ProviderError, match="no response from the site") as info:
        await alone.chat.completions.create(messages="hi")
    assert isinstance(info.value.__cause__, RuntimeError)
    assert info.value.provider == "G4FBroken"
    listed = AsyncClient(provider=[G4FBroken, ScriptedProvider("rescued", name="backup")])
    response = await listed.chat.completions.create(messages="hi")
    assert response.choices[0].message.content == "rescued"
    assert response.provider == "backup"


def test_g4f_style_provider_with_the_sync_client() -> None:
    with Client(provider=G4FStyle) as client:
        response = client.chat.completions.create(messages="hi")
    assert response.choices[0].message.content == "Hello from g4f"


# -- the test doubles -------------------------------------------------------------------------


async def test_scripted_provider_plays_replies_in_order_and_repeats_the_last() -> None:
    provider = ScriptedProvider(
        RateLimitError("busy", status_code=429),
        "first",
        ["a", "b", BadRequestError("no", status_code=400)],
    )
    client = AsyncClient(provider=provider)
    with pytest.raises(RateLimitError):
        await client.chat.completions.create(messages="x")
    assert (await client.chat.completions.create(messages="x")).choices[0].message.content == (
        "first"
    )
    for _ in range(2):  # the last reply repeats
        with pytest.raises(BadRequestError):
            await client.chat.completions.create(messages="x")
    assert len(provider.requests) == 4


async def test_function_provider_accepts_every_return_shape() -> None:
    async def agen(request: ChatRequest) -> AsyncIterator[str]:
        yield "async "
        yield "gen"

    async def coro(request: ChatRequest) -> str:
        return "awaited"

    cases: list[tuple[Any, str]] = [
        (lambda r: "plain", "plain"),
        (lambda r: ["li", "st"], "list"),
        (lambda r: iter(["it", "er"]), "iter"),
        (agen, "async gen"),
        (coro, "awaited"),
        (lambda r: "echo: " + r.messages[0]["content"], "echo: q"),
    ]
    for fn, expected in cases:
        provider = FunctionProvider(fn)
        client = AsyncClient(provider=provider)
        response = await client.chat.completions.create(messages="q")
        assert response.choices[0].message.content == expected
        assert response.provider == "function"
        assert provider.requests[0].messages == [{"role": "user", "content": "q"}]
    with pytest.raises(TypeError, match="returned int"):
        await AsyncClient(provider=FunctionProvider(lambda r: 5)).chat.completions.create(
            messages="q"
        )


# -- models -----------------------------------------------------------------------------------


async def test_models_list_is_cached_and_refreshable() -> None:
    class Counting(ScriptedProvider):
        asked = 0

        async def list_models(self, request: ModelsRequest) -> list[str]:
            self.asked += 1
            return [f"model-{self.asked}"]

    chat = Counting(name="chat")
    images = ScriptedProvider(images=[b"x"], image_models=["img"], models=(), name="images")
    client = AsyncClient(provider=chat, image_provider=images)
    first = await client.models.list()
    assert [(m.id, m.owned_by, m.provider) for m in first] == [
        ("model-1", "chat", "chat"),
        ("img", "images", "images"),
    ]
    assert (await client.models.list()) is first
    assert chat.asked == 1
    refreshed = await client.models.list(refresh=True)
    assert refreshed.data[0].id == "model-2"
    assert len(refreshed) == 2


async def test_base_provider_lists_its_declared_models() -> None:
    class Declared(Provider):
        models = ["a", "b"]
        image_models = ["b", "c"]

        async def stream_chat(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
            yield "x"

    client = AsyncClient(provider=Declared)
    assert [m.id for m in await client.models.list()] == ["a", "b", "c"]


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, InternalServerError),
        (503, InternalServerError),
        (418, APIStatusError),
    ],
)
def test_status_error_mapping(status: int, cls: type[APIStatusError]) -> None:
    err = status_error(
        status, "nope", provider="p", body={"error": "x"}, headers={"a": "b"}, retry_after=2.5
    )
    assert type(err) is cls
    assert isinstance(err, APIStatusError) and isinstance(err, APIError)
    assert (err.status_code, err.provider, err.body, err.retry_after) == (
        status,
        "p",
        {"error": "x"},
        2.5,
    )
    assert dict(err.headers) == {"a": "b"}
    assert str(err) == f"p: HTTP {status}: nope"


def test_error_tree_shape() -> None:
    assert issubclass(APITimeoutError, APIConnectionError)
    assert issubclass(polymux.InvalidRequestError, ValueError)
    assert issubclass(polymux.UnsupportedCapabilityError, polymux.InvalidRequestError)
    for cls in (MissingCredentialsError, UnknownProviderError, polymux.NoProviderForModelError):
        assert issubclass(cls, ConfigurationError)
    for name in polymux.__all__:
        obj = getattr(polymux, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, polymux.PolymuxError), name
    timeout = APITimeoutError("slow", limit="idle", seconds=0.5, provider="p")
    assert (timeout.limit, timeout.seconds, timeout.provider) == ("idle", 0.5, "p")


def test_all_providers_failed_carries_every_failure() -> None:
    a, b = RateLimitError("busy", status_code=429), APIConnectionError("reset")
    err = AllProvidersFailedError([("first", a), ("second", b)])
    assert err.errors == [("first", a), ("second", b)]
    assert err.exceptions == [a, b]
    assert "first" in str(err) and "second" in str(err) and "RateLimitError" in str(err)


async def test_fallback_through_the_client_reports_every_failure() -> None:
    first = ScriptedProvider(RateLimitError("busy", status_code=429), name="first")
    second = ScriptedProvider(InternalServerError("down", status_code=503), name="second")
    client = AsyncClient(provider=[first, second])
    with pytest.raises(AllProvidersFailedError) as info:
        await client.chat.completions.create(messages="x")
    assert [n for n, _ in info.value.errors] == ["first", "second"]
    third = ScriptedProvider("ok", name="third")
    response = await AsyncClient(provider=[first, third]).chat.completions.create(messages="x")
    assert response.provider == "third"


class Keyed(Provider):
    name = "keyed"
    api_key_env = ("KEYED_API_KEY", "KEYED_TOKEN")
    requires_api_key = True

    async def stream_chat(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        self.require_api_key()
        yield "authorized"


async def test_missing_credentials_names_argument_and_env_vars(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KEYED_API_KEY", raising=False)
    monkeypatch.delenv("KEYED_TOKEN", raising=False)
    client = AsyncClient(provider=Keyed)
    with pytest.raises(MissingCredentialsError) as info:
        await client.chat.completions.create(messages="x")
    message = str(info.value)
    assert "api_key=" in message and "KEYED_API_KEY" in message and "KEYED_TOKEN" in message
    assert info.value.env == ("KEYED_API_KEY", "KEYED_TOKEN")
    assert not Keyed().is_configured
    monkeypatch.setenv("KEYED_TOKEN", SECRET)
    assert Keyed().api_key == SECRET and Keyed().is_configured
    response = await AsyncClient(provider=Keyed).chat.completions.create(messages="x")
    assert response.choices[0].message.content == "authorized"


async def test_keys_never_show_in_reprs_or_errors() -> None:
    provider = Keyed(api_key=SECRET)
    assert provider.api_key == SECRET
    shown = [repr(provider), str(provider), repr(AsyncClient(provider=provider))]
    shown.append(repr(AsyncClient(provider=Keyed, api_key=SECRET)))
    shown.append(repr(AsyncClient(provider=Keyed, api_key=SECRET).providers))
    with Client(provider=Keyed, api_key=SECRET) as client:
        shown.append(repr(client))
    failing = ScriptedProvider(AuthenticationError("bad key", status_code=401))
    with pytest.raises(AuthenticationError) as info:
        await AsyncClient(provider=failing, api_key=SECRET).chat.completions.create(messages="x")
    shown.append(str(info.value))
    shown.append(repr(info.value))
    for text in shown:
        assert SECRET not in text
    assert "keyed" in repr(provider)


def test_unknown_provider_name_lists_known_ones() -> None:
    with pytest.raises(UnknownProviderError) as info:
        AsyncClient(provider="no-such-provider")
    assert "no-such-provider" in str(info.value)
    assert "openai" in info.value.known


async def test_no_provider_configured_is_a_clear_error() -> None:
    client = AsyncClient()
    with pytest.raises(ConfigurationError, match="provider="):
        _ = client.chat.completions.create(messages="x")
    with pytest.raises(ConfigurationError):
        AsyncClient(provider=42)
    with pytest.raises(ConfigurationError):
        AsyncClient(provider=[])


class Reasoning:  # g4f's response objects, as its providers yield them
    def __init__(self, token: str | None = None, status: str | None = None) -> None:
        self.token = token
        self.status = status


class G4FUsage:
    def __init__(self, **kwargs: Any) -> None:
        for key, value in kwargs.items():
            setattr(self, key, value)


G4FUsage.__name__ = "Usage"


class ToolCalls:
    def __init__(self, calls: list[dict[str, Any]]) -> None:
        self.list = calls


class ImageResponse:
    urls = ("https://example.com/x.png",)


async def test_g4f_response_objects_are_translated() -> None:
    class RichG4F:
        @classmethod
        async def create_async_generator(
            cls, model: str, messages: list[dict[str, Any]], **kwargs: Any
        ) -> AsyncIterator[Any]:
            yield Reasoning(status="thinking...")  # a status line only: nothing to show
            yield Reasoning("Let me look. ")
            yield "Calling a tool."
            yield ImageResponse()  # not part of a chat completion: skipped
            yield ToolCalls(
                [
                    {"id": "call_1", "function": {"name": "lookup", "arguments": '{"q": 1}'}},
                    {"id": "call_2", "function": {"name": "other", "arguments": {"x": 2}}},
                ]
            )
            yield G4FUsage(prompt_tokens=12, completion_tokens=5, total_tokens=17)
            yield FinishReason("tool_calls")

    response = await AsyncClient(provider=RichG4F).chat.completions.create(messages="hi")
    message = response.choices[0].message
    # An image inside a chat answer reads as Markdown, as g4f renders it.
    assert message.content == "Calling a tool.\n![](https://example.com/x.png)\n"
    assert message.reasoning_content == "Let me look. "
    assert message.tool_calls is not None
    assert [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls] == [
        ("call_1", "lookup", '{"q": 1}'),
        ("call_2", "other", '{"x": 2}'),
    ]
    assert response.choices[0].finish_reason == "tool_calls"
    assert response.usage is not None
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (12, 5)
    assert response.usage.estimated is None
