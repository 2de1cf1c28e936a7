# g4f's keywords (conversation=, web_search=, media= ...) are deliberately not in the typed
# signature, so that a misspelled OpenAI keyword stays a type error; these tests pass them.
# mypy: disable-error-code="call-overload"
"""A g4f script runs with only the package name changed: g4f's call shapes, keywords, provider
styles and module paths (README, "Coming from g4f"). The providers here are written the way
g4f's users write theirs, against polymux's g4f-named base classes."""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

import polymux
from polymux import AsyncClient, Client
from polymux.errors import (
    AllProvidersFailedError,
    InvalidRequestError,
    MissingAuthError,
    ModelNotFoundError,
    ProviderError,
    ProviderNotWorkingError,
)
from polymux.providers.base_provider import (
    AbstractProvider,
    AsyncGeneratorProvider,
    AsyncProvider,
    ProviderModelMixin,
)
from polymux.providers.response import (
    FinishReason,
    ImageResponse,
    Reasoning,
    ToolCalls,
    Usage,
)
from polymux.providers.retry_provider import IterListProvider

HELLO = [{"role": "user", "content": "Hello"}]
WORDS = [{"role": "user", "content": w} for w in ["How ", "are ", "you", "?"]]


# -- providers in each g4f style ---------------------------------------------------------------
class Echo(AsyncGeneratorProvider):
    """Yields each message's content: one piece per message."""

    seen: list[dict[str, Any]] = []

    @classmethod
    async def create_async_generator(
        cls, model: str, messages: list[dict[str, Any]], stream: bool, **kwargs: Any
    ) -> AsyncIterator[Any]:
        cls.seen.append({"model": model, "stream": stream, **kwargs})
        for message in messages:
            yield message["content"]


class SyncModel(AbstractProvider):
    """The sync style: yields the model it was asked for, from a worker thread."""

    threads: list[str] = []

    @classmethod
    def create_completion(
        cls, model: str, messages: Any, stream: bool, **kwargs: Any
    ) -> Iterator[str]:
        cls.threads.append(threading.current_thread().name)
        yield model or "default"


class Coroutine(AsyncProvider):
    @classmethod
    async def create_async(cls, model: str, messages: Any, **kwargs: Any) -> str:
        return "whole answer"


class Failing(AbstractProvider):
    @classmethod
    def create_completion(cls, model: str, messages: Any, stream: bool, **kwargs: Any) -> Any:
        raise RuntimeError("upstream broke")
        yield ""


class NoAuth(AbstractProvider):
    @classmethod
    def create_completion(cls, model: str, messages: Any, stream: bool, **kwargs: Any) -> Any:
        raise MissingAuthError("no cookies found")
        yield ""


class Nothing(AsyncGeneratorProvider):
    @classmethod
    async def create_async_generator(cls, model: str, messages: Any, **kwargs: Any) -> Any:
        yield None


class Painter(AsyncGeneratorProvider):
    """An image provider in g4f's style: gets prompt=, yields an ImageResponse."""

    @classmethod
    async def create_async_generator(
        cls, model: str, messages: Any, stream: bool, prompt: str, **kwargs: Any
    ) -> Any:
        yield ImageResponse([f"https://img.example/{prompt}.png"], alt=prompt)


class Rich(AsyncGeneratorProvider):
    """Every kind of item g4f providers yield."""

    @classmethod
    async def create_async_generator(cls, model: str, messages: Any, **kwargs: Any) -> Any:
        yield Reasoning("thinking...")
        yield "Look: "
        yield ImageResponse("https://img.example/cat.png", alt="a cat")
        yield ToolCalls(
            [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": {}}}]
        )
        yield Usage(prompt_tokens=7, completion_tokens=3)
        yield FinishReason("tool_calls")


class Chatty(AsyncGeneratorProvider):
    """No native JSON mode: wraps its JSON in prose."""

    @classmethod
    async def create_async_generator(cls, model: str, messages: Any, **kwargs: Any) -> Any:
        yield 'Sure! Here it is:\n```json\n{"city": "Oslo", '
        yield '"population": 709000}\n```\nAnything else?'


class Described(AsyncGeneratorProvider, ProviderModelMixin):
    """Class attributes g4f reads as capabilities."""

    working = False
    supports_stream = False
    supports_system_message = False
    default_model = "d-1"
    models = ["d-1", "d-2"]
    model_aliases = {"dee": "d-2"}
    vision_models = ["d-2"]
    image_models = ["d-img"]
    calls: list[dict[str, Any]] = []

    @classmethod
    async def create_async_generator(
        cls, model: str, messages: list[dict[str, Any]], stream: bool, **kwargs: Any
    ) -> AsyncIterator[str]:
        cls.calls.append({"model": model, "stream": stream, "messages": messages, **kwargs})
        yield f"{cls.get_model(model)}:{'|'.join(m['role'] for m in messages)}"


# -- call shapes -------------------------------------------------------------------------------
async def test_positional_create_and_generate() -> None:
    client = AsyncClient(provider=SyncModel, image_provider=Painter)
    response = await client.chat.completions.create(HELLO, "my-model")
    assert response.choices[0].message.content == "my-model"
    assert (await client.chat.completions.create(HELLO, "")).choices[0].message.content == (
        "default"
    )
    assert SyncModel.threads and all(t != "MainThread" for t in SyncModel.threads)
    images = await client.images.generate("cat", "")
    assert images.data[0].url == "https://img.example/cat.png"
    assert images.provider == "Painter"
    with pytest.raises(TypeError, match="multiple values"):
        client.chat.completions.create(HELLO, messages=HELLO)


def test_sync_client_positional_and_stream_method() -> None:
    with Client(provider=Echo) as client:
        assert client.chat.completions.create(WORDS, "m").choices[0].message.content == (
            "How are you?"
        )
        pieces = [c.choices[0].delta.content for c in client.chat.completions.stream(WORDS)]
        assert "".join(p or "" for p in pieces) == "How are you?"
        assert client.media is client.images


async def test_each_piece_counts_as_a_token_as_in_g4f() -> None:
    client = AsyncClient(provider=Echo)
    for limit, text in ((0, "How "), (1, "How "), (2, "How are ")):
        response = await client.chat.completions.create(WORDS, "", max_tokens=limit)
        assert response.choices[0].message.content == text
        assert response.choices[0].finish_reason == "length"
    chunks = [c async for c in client.chat.completions.create(WORDS, "", stream=True, max_tokens=2)]
    assert [c.choices[0].delta.content for c in chunks] == ["How ", "are ", None]
    assert chunks[-1].choices[0].finish_reason == "length"


async def test_other_provider_styles_and_fallback() -> None:
    assert (await AsyncClient(provider=Coroutine).chat.completions.create(HELLO)).choices[
        0
    ].message.content == "whole answer"
    lst = IterListProvider([Failing, NoAuth, Nothing, Echo], False)
    response = await AsyncClient(provider=lst).chat.completions.create(HELLO)
    assert response.choices[0].message.content == "Hello"
    assert response.provider == "Echo"
    with pytest.raises(AllProvidersFailedError) as caught:
        await AsyncClient(provider=[Nothing, Failing]).images.generate("x")
    failure = caught.value.errors[1][1]
    assert isinstance(failure, ProviderError)
    assert isinstance(failure.__cause__, RuntimeError)


async def test_image_list_skips_providers_without_images() -> None:
    client = AsyncClient(image_provider=IterListProvider([NoAuth, Nothing, Painter], False))
    # g4f takes any response_format but url/b64_json as its default: for polymux, "url".
    response = await client.images.generate("dog", "", response_format="original")
    assert [d.url for d in response.data] == ["https://img.example/dog.png"]


async def test_g4f_response_objects_in_a_chat_answer() -> None:
    response = await AsyncClient(provider=Rich).chat.completions.create(HELLO)
    message = response.choices[0].message
    assert message.reasoning_content == "thinking..."
    assert message.content == "Look: \n![a cat](https://img.example/cat.png)\n"
    assert message.tool_calls is not None and message.tool_calls[0].function.arguments == "{}"
    assert response.choices[0].finish_reason == "tool_calls"
    assert response.usage is not None and response.usage.prompt_tokens == 7


async def test_json_object_without_native_json_mode_returns_the_json() -> None:
    response = await AsyncClient(provider=Chatty).chat.completions.create(
        HELLO, response_format={"type": "json_object"}
    )
    assert json.loads(response.choices[0].message.content or "") == {
        "city": "Oslo",
        "population": 709000,
    }


async def test_class_attributes_are_capabilities() -> None:
    Described.calls.clear()
    client = AsyncClient(provider=Described)
    with pytest.raises(ProviderNotWorkingError, match="ignore_working=True"):
        await client.chat.completions.create(HELLO)
    messages = [{"role": "system", "content": "be brief"}, *HELLO]
    response = await client.chat.completions.create(
        messages, "dee", stream=True, ignore_working=True, ignore_stream=True
    ).__anext__()
    # no system messages: sent as user turns; no streaming: called with stream=False
    assert response.choices[0].delta.content == "d-2:user|user"
    assert Described.calls[-1]["stream"] is False
    assert "ignore_working" not in Described.calls[-1]
    assert client.models.get_all() == ["d-1", "d-2", "d-img"]
    assert client.models.get_vision() == ["d-2"]
    assert client.models.get_image() == client.models.get_media() == ["d-img"]
    assert client.models.get("d-img").name == "Described"
    assert client.models.get("nope", "fallback") == "fallback"
    with pytest.raises(ModelNotFoundError):
        Described.get_model("gpt-99")


async def test_needs_auth_without_key_moves_on() -> None:
    class Locked(Echo):
        needs_auth = True

    response = await AsyncClient(provider=[Locked, Echo]).chat.completions.create(HELLO)
    assert response.provider == "Echo"
    Echo.seen.clear()
    await AsyncClient(provider=Locked, api_key="k-1").chat.completions.create(HELLO)
    assert Echo.seen[-1]["api_key"] == "k-1"


# -- keywords ----------------------------------------------------------------------------------
async def test_g4f_keywords_reach_g4f_style_providers() -> None:
    Echo.seen.clear()
    client = AsyncClient(provider=Echo)
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 16
    await client.chat.completions.create(
        HELLO,
        proxies={"https": "http://127.0.0.1:9"},
        media=[(png, "cat.png")],
        conversation={"id": "c1"},
        web_search=True,
        my_flag=1,  # unknown keywords go on, as g4f forwards them
    )
    seen = Echo.seen[-1]
    assert seen["proxy"] == "http://127.0.0.1:9"
    assert seen["media"] == [(png, None)]
    assert seen["conversation"] == {"id": "c1"}
    assert seen["web_search"] is True and seen["my_flag"] == 1


async def test_misspelled_keyword_is_a_type_error_for_official_providers() -> None:
    client = AsyncClient(provider="openai", api_key="k")
    with pytest.raises(TypeError, match="temprature"):
        client.chat.completions.create(HELLO, "gpt-4o-mini", temprature=0.2)
    with pytest.raises(TypeError, match="sizes"):
        _ = client.images.generate("cat", "dall-e-3", sizes="1x1")
    # web_search where the provider has no search at all: a clear error, before any call
    with pytest.raises(InvalidRequestError, match="web search"):
        AsyncClient(provider="groq", api_key="k").chat.completions.create(HELLO, web_search=True)
    # False is always accepted; so are g4f's steering keywords
    AsyncClient(provider="groq", api_key="k").chat.completions.create(
        HELLO, "m", web_search=False, ignore_stream=True, download_media=False
    ).close()


# -- the legacy interface ----------------------------------------------------------------------
def test_legacy_chat_completion() -> None:
    assert polymux.ChatCompletion.create(polymux.models.default, HELLO, SyncModel) == "default"
    assert polymux.ChatCompletion.create("", HELLO, Coroutine) == "whole answer"
    assert list(polymux.ChatCompletion.create("", WORDS, Echo, stream=True)) == [
        "How ",
        "are ",
        "you",
        "?",
    ]


async def test_legacy_chat_completion_async_and_inside_a_running_loop() -> None:
    from polymux import ChatCompletion

    assert await ChatCompletion.create_async("", HELLO, Echo) == "Hello"
    pieces = [p async for p in ChatCompletion.create_async("", WORDS, Echo, stream=True)]
    assert pieces == ["How ", "are ", "you", "?"]
    # g4f needs nest_asyncio here; polymux's sync call runs on its own loop thread.
    assert ChatCompletion.create("", HELLO, Echo) == "Hello"


def test_registry_model_objects() -> None:
    model = polymux.models.gpt_4o
    assert model.name == "gpt-4o" and model.base_provider == "openai"
    assert next(iter(model.best_provider)) == "openai"
    assert polymux.models.llama_3_3_70b.name == "llama-3.3-70b"
    with pytest.raises(AttributeError):
        _ = polymux.models.no_such_model


# -- module paths and names --------------------------------------------------------------------
def test_provider_is_one_thing_the_module() -> None:
    import polymux.Provider as module
    from polymux import Provider
    from polymux.Provider import OpenaiChat

    assert Provider is module and polymux.Provider is module
    assert OpenaiChat is Provider.OpenaiAPI
    assert Provider.RetryProvider is polymux.RetryProvider
    with pytest.raises(TypeError, match=r"subclass polymux\.providers\.Provider"):

        class Mine(Provider):  # type: ignore[misc,valid-type]
            pass


def test_g4f_names_for_official_apis_and_scraping_providers() -> None:
    from polymux.Provider import Azure, Copilot, GeminiPro, OpenaiAccount, PollinationsAI
    from polymux.providers.gemini import Gemini
    from polymux.providers.openai import AzureOpenAI
    from polymux.providers.pollinations import Pollinations

    assert issubclass(GeminiPro, Gemini) and Azure is AzureOpenAI
    assert PollinationsAI is Pollinations
    with pytest.raises(polymux.ConfigurationError, match=r"scrapes a web UI.*AzureOpenAI"):
        AsyncClient(provider=Copilot)
    with pytest.raises(polymux.ConfigurationError, match="OPENAI_API_KEY"):
        AsyncClient(provider="openaiaccount")
    with pytest.raises(polymux.ConfigurationError):
        OpenaiAccount.create_completion("", HELLO, False)


def test_provider_names_are_case_insensitive_and_space_separated() -> None:
    client = AsyncClient(provider="OpenaiChat gemini GROQ", api_key="k")
    assert [type(p).__name__ for p in client.providers] == ["OpenaiChat", "Gemini", "Groq"]


def test_typing_and_response_types_import() -> None:
    from polymux.client import ChatCompletion, ChatCompletionChunk, ImagesResponse
    from polymux.typing import AsyncResult, MediaListType, Messages

    assert [ChatCompletion.__name__, ChatCompletionChunk.__name__, ImagesResponse.__name__] == [
        "ChatCompletion",
        "ChatCompletionChunk",
        "ImagesResponse",
    ]
    assert all(t is not None for t in (Messages, AsyncResult, MediaListType))


async def test_save_message_and_image(tmp_path: Path) -> None:
    class Coder(AsyncGeneratorProvider):
        @classmethod
        async def create_async_generator(cls, model: str, messages: Any, **kw: Any) -> Any:
            yield "Here:\n```python\nprint('hi')\n```\n"

    response = await AsyncClient(provider=Coder).chat.completions.create(HELLO)
    response.choices[0].message.save(tmp_path / "all.md")
    response.choices[0].message.save(tmp_path / "code.py", ["python"])
    assert (tmp_path / "all.md").read_text().startswith("Here:")
    assert (tmp_path / "code.py").read_text() == "print('hi')\n"

    class DataPainter(AsyncGeneratorProvider):
        @classmethod
        async def create_async_generator(cls, model: str, messages: Any, **kw: Any) -> Any:
            yield ImageResponse("data:image/png;base64,iVBORw0KGgo=")

    images = await AsyncClient(image_provider=DataPainter).images.generate("x")
    images.data[0].save(tmp_path / "x.png")
    assert (tmp_path / "x.png").read_bytes() == b"\x89PNG\r\n\x1a\n"
    linked = await AsyncClient(image_provider=Painter).images.generate("x")
    with pytest.raises(InvalidRequestError, match="b64_json"):
        linked.data[0].save(tmp_path / "y.png")


async def test_image_provider_without_the_model_answers_with_its_own(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Flux(Painter):
        image_models = ["flux"]

    client = AsyncClient(image_provider=[Flux, Painter])
    with caplog.at_level(logging.WARNING, logger="polymux.client"):
        # Painter lists no models (it takes any): it serves "dall-e-3" and goes first.
        served = await client.images.generate("a", "dall-e-3")
        assert served.provider == "Painter" and served.model == "dall-e-3"
        assert not caplog.records
        only = await AsyncClient(image_provider=Flux).images.generate("a", "dall-e-3")
    assert only.provider == "Flux" and only.model == "flux"
    assert "does not make images with 'dall-e-3'" in caplog.text


async def test_many_concurrent_g4f_calls() -> None:
    client = AsyncClient(provider=SyncModel)
    answers = await asyncio.gather(
        *(client.chat.completions.create(HELLO, f"m{i}") for i in range(20))
    )
    assert [a.choices[0].message.content for a in answers] == [f"m{i}" for i in range(20)]


async def test_create_variation_hands_the_image_to_a_g4f_style_provider() -> None:
    class Editor(AsyncGeneratorProvider):
        media: list[Any] = []

        @classmethod
        async def create_async_generator(cls, model: str, messages: Any, **kw: Any) -> Any:
            cls.media.append(kw["media"])
            yield ImageResponse(f"https://img.example/{kw['prompt']}.png")

    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 16
    client = AsyncClient(image_provider=Editor)
    response = await client.images.create_variation(png, "cat.png", prompt="bluer")
    assert response.data[0].url == "https://img.example/bluer.png"
    assert Editor.media == [[(png, None)]]
    with Client(image_provider=Editor) as sync:
        assert str(sync.images.edit(image=png, prompt="red").data[0].url).endswith("red.png")


def test_g4f_per_provider_module_paths_and_debug_switch() -> None:
    import logging as std_logging

    from polymux.providers.gemini import Gemini

    # the same import statements g4f scripts write, made by the import system
    scope: dict[str, Any] = {}
    exec("from polymux.Provider.GeminiPro import GeminiPro", scope)
    exec("from polymux.Provider.RetryProvider import RetryProvider", scope)
    GeminiPro, RetryProvider = scope["GeminiPro"], scope["RetryProvider"]

    assert issubclass(GeminiPro, Gemini) and RetryProvider is polymux.RetryProvider
    with pytest.raises(ImportError):
        importlib.import_module("polymux.Provider.NoSuchProvider")
    debug: Any = importlib.import_module("polymux.debug")
    logger = std_logging.getLogger("polymux")
    try:
        debug.logging = True
        debug.version_check = False
        assert debug.logging and logger.level == std_logging.DEBUG
    finally:
        debug.logging = False
    assert not debug.logging and logger.level == std_logging.NOTSET


def test_every_builtin_provider_class_is_in_polymux_provider() -> None:
    from polymux.providers import Provider as Base
    from polymux.providers.registry import BUILTIN_PROVIDERS, load_provider_class

    module = importlib.import_module("polymux.Provider")
    exported = {getattr(module, name) for name in module.__all__}
    for name in BUILTIN_PROVIDERS:
        cls = load_provider_class(name)
        assert cls in exported or any(
            isinstance(e, type) and issubclass(e, cls) and e is not Base for e in exported
        ), name


async def test_conversation_goes_in_and_comes_back() -> None:
    from polymux.providers.response import JsonConversation

    class Remembers(AsyncGeneratorProvider):
        @classmethod
        async def create_async_generator(
            cls, model: str, messages: Any, conversation: Any = None, **kw: Any
        ) -> Any:
            turn = 1 if conversation is None else conversation.turn + 1
            yield f"turn {turn}"
            yield JsonConversation(conversation_id="c-1", turn=turn)

    client = AsyncClient(provider=Remembers)
    first = await client.chat.completions.create(messages="I was born on 01-01-1999.")
    assert first.choices[0].message.content == "turn 1"
    assert first.conversation.conversation_id == "c-1"
    second = await client.chat.completions.create(
        messages="How old am I?", conversation=first.conversation
    )
    assert second.choices[0].message.content == "turn 2"
    assert second.conversation.get_dict() == {"conversation_id": "c-1", "turn": 2}
    # concurrent calls keep their own conversations
    a, b = await asyncio.gather(
        client.chat.completions.create(messages="x", conversation=second.conversation),
        client.chat.completions.create(messages="y", conversation=first.conversation),
    )
    assert (a.conversation.turn, b.conversation.turn) == (3, 2)
    # a provider that keeps none: the one given comes back; official responses omit it
    plain = await AsyncClient(provider=Echo).chat.completions.create(HELLO, conversation={"k": 1})
    assert plain.conversation == {"k": 1}
    assert (
        "conversation"
        not in (await AsyncClient(provider=Echo).chat.completions.create(messages=HELLO)).to_dict()
    )
