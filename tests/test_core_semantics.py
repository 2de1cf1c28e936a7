"""Client-side semantics (stop sequences, finish reasons, provider names) and input checks."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from polymux import (
    AsyncClient,
    Capabilities,
    InvalidRequestError,
    UnsupportedCapabilityError,
)
from polymux.testing import ScriptedProvider
from polymux.types import Finish, TextDelta, ToolCallDelta

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24


async def both(
    provider: ScriptedProvider, **params: Any
) -> tuple[str, str | None, str, str | None]:
    """(text, finish_reason) of a non-streamed and a streamed call with the same script."""
    client = AsyncClient(provider=provider)
    params.setdefault("messages", "hi")
    full = await client.chat.completions.create(**params)
    streamed = ""
    finish = None
    async for chunk in client.chat.completions.create(stream=True, **params):
        for choice in chunk.choices:
            assert finish is None, "a chunk arrived after the finish"
            streamed += choice.delta.content or ""
            finish = choice.finish_reason
    return full.choices[0].message.content or "", full.choices[0].finish_reason, streamed, finish


def splits(text: str, parts: int) -> list[list[str]]:
    """Every way to cut text into at most ``parts`` non-empty pieces."""
    out = []
    for k in range(parts):
        for cuts in itertools.combinations(range(1, len(text)), k):
            bounds = [0, *cuts, len(text)]
            out.append([text[a:b] for a, b in itertools.pairwise(bounds)])
    return out


# -- stop sequences ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "stops", "expected"),
    [
        ("Hello END world", ["END"], "Hello "),
        ("no stop here", ["END"], "no stop here"),
        ("ends with EN", ["END"], "ends with EN"),  # a partial stop at the end is released
        ("a\n\nb", ["\n\n"], "a"),
        ("xyz", ["z", "y"], "x"),
        ("abcdef", ["abcde", "bc"], "a"),  # the stop completed first wins, however text is cut
        ("one.two;three", [";", "."], "one"),
        ("STOPSTOP", ["STOP"], ""),
    ],
)
async def test_stop_is_identical_for_every_split_and_both_styles(
    text: str, stops: list[str], expected: str
) -> None:
    for pieces in splits(text, 4):
        provider = ScriptedProvider(pieces)
        full, full_finish, streamed, stream_finish = await both(provider, stop=stops)
        assert (full, streamed) == (expected, expected), pieces
        assert full_finish == stream_finish == "stop"


async def test_stop_split_across_chunks_closes_the_provider_early() -> None:
    provider = ScriptedProvider(["Hello E", "N", "D and then more", " text", " never read"])
    full, finish, streamed, stream_finish = await both(provider, stop="END")
    assert full == streamed == "Hello "
    assert finish == stream_finish == "stop"
    # it stopped reading once the stop sequence was complete
    assert provider.closed_early == 2
    assert provider.active == 0


async def test_stop_applies_to_each_choice() -> None:
    script = [TextDelta("a.b", 0), TextDelta("c", 1), TextDelta(".d", 1), Finish("length", 1)]
    client = AsyncClient(provider=ScriptedProvider(script))
    response = await client.chat.completions.create(messages="hi", n=2, stop=".")
    assert [(c.message.content, c.finish_reason) for c in response.choices] == [
        ("a", "stop"),
        ("c", "stop"),
    ]


async def test_stop_held_text_is_released_when_the_provider_finishes() -> None:
    provider = ScriptedProvider(["abc", "EN", Finish("length")])
    full, finish, streamed, stream_finish = await both(provider, stop=["END"])
    assert full == streamed == "abcEN"
    assert finish == stream_finish == "length"


# -- finish reasons ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        (["text"], "stop"),
        (["text", Finish("length")], "length"),
        (["text", Finish("content_filter")], "content_filter"),
        ([ToolCallDelta(0, id="c1", name="f", arguments="{}")], "tool_calls"),
        ([ToolCallDelta(0, id="c1", name="f", arguments="{}"), Finish("stop")], "tool_calls"),
        ([], "stop"),
    ],
)
async def test_finish_reason_is_always_set(script: list[Any], expected: str) -> None:
    provider = ScriptedProvider(script)
    _, finish, _, stream_finish = await both(provider)
    assert finish == stream_finish == expected


async def test_provider_name_on_every_response_and_chunk() -> None:
    client = AsyncClient(provider=ScriptedProvider(["a", "b"], name="mine"))
    response = await client.chat.completions.create(messages="hi")
    assert response.provider == "mine"
    chunks = [
        c
        async for c in client.chat.completions.create(
            messages="hi", stream=True, stream_options={"include_usage": True}
        )
    ]
    assert len(chunks) == 4
    assert {c.provider for c in chunks} == {"mine"}


async def test_messages_as_a_plain_string() -> None:
    provider = ScriptedProvider("ok")
    client = AsyncClient(provider=provider)
    await client.chat.completions.create(messages="What is 2+2?")
    assert provider.requests[0].messages == [{"role": "user", "content": "What is 2+2?"}]


async def test_per_call_provider_override() -> None:
    default = ScriptedProvider("from default", name="default")
    other = ScriptedProvider("from other", name="other")
    client = AsyncClient(provider=default)
    response = await client.chat.completions.create(messages="hi", provider=other)
    assert response.provider == "other"
    assert response.choices[0].message.content == "from other"
    assert default.requests == []
    chunks = [
        c async for c in client.chat.completions.create(messages="hi", provider=other, stream=True)
    ]
    assert {c.provider for c in chunks} == {"other"}
    assert len(other.requests) == 2 and default.requests == []


async def test_params_reach_the_provider() -> None:
    provider = ScriptedProvider("ok")
    client = AsyncClient(provider=provider)
    await client.chat.completions.create(
        model="scripted-model",
        messages="hi",
        temperature=0.5,
        top_p=0.9,
        max_tokens=10,
        max_completion_tokens=20,
        seed=7,
        response_format={"type": "json_object"},
        tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}],
        tool_choice="auto",
        parallel_tool_calls=False,
        user="u1",
        extra_body={"top_k": 3},
    )
    r = provider.requests[0]
    assert (r.temperature, r.top_p, r.max_tokens, r.max_completion_tokens) == (0.5, 0.9, 10, 20)
    assert r.token_limit == 20
    assert (r.seed, r.user, r.parallel_tool_calls, r.tool_choice) == (7, "u1", False, "auto")
    assert r.response_format == {"type": "json_object"}
    assert r.tools is not None and r.tools[0]["function"]["name"] == "f"
    assert r.extra_body == {"top_k": 3}


def test_unknown_keyword_is_a_type_error_naming_it() -> None:
    provider = ScriptedProvider("ok")
    client = AsyncClient(provider=provider)
    with pytest.raises(TypeError, match="temprature"):
        client.chat.completions.create(messages="hi", temprature=0.5)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="colour"):
        _ = client.images.generate(prompt="cat", colour="red")  # type: ignore[call-overload]
    assert provider.requests == []


# -- bad input fails before any provider is called --------------------------------------------

BAD_CHAT_INPUT: list[tuple[str, dict[str, Any]]] = [
    ("empty list", {"messages": []}),
    ("empty string", {"messages": ""}),
    ("not a list", {"messages": 42}),
    ("bytes", {"messages": b"hi"}),
    ("message not a dict", {"messages": ["hi"]}),
    ("missing role", {"messages": [{"content": "hi"}]}),
    ("unknown role", {"messages": [{"role": "robot", "content": "hi"}]}),
    ("role not a string", {"messages": [{"role": ["user"], "content": "hi"}]}),
    ("content wrong type", {"messages": [{"role": "user", "content": 5}]}),
    ("user without content", {"messages": [{"role": "user"}]}),
    ("bad content part", {"messages": [{"role": "user", "content": [{"type": "video"}]}]}),
    (
        "text part without text",
        {"messages": [{"role": "user", "content": [{"type": "text"}]}]},
    ),
    (
        "tool without tool_call_id",
        {"messages": [{"role": "user", "content": "hi"}, {"role": "tool", "content": "42"}]},
    ),
    ("temperature too high", {"messages": "hi", "temperature": 3}),
    ("temperature a string", {"messages": "hi", "temperature": "0.5"}),
    ("temperature a bool", {"messages": "hi", "temperature": True}),
    ("top_p too high", {"messages": "hi", "top_p": 1.5}),
    ("max_tokens negative", {"messages": "hi", "max_tokens": -1}),  # 0 is allowed (spec)
    ("max_tokens float", {"messages": "hi", "max_tokens": 1.5}),
    ("n zero", {"messages": "hi", "n": 0}),
    ("stop wrong type", {"messages": "hi", "stop": 5}),
    ("model wrong type", {"messages": "hi", "model": 5}),
    ("stream not bool", {"messages": "hi", "stream": "yes"}),
    ("tools not a list", {"messages": "hi", "tools": "f"}),
    ("tool without name", {"messages": "hi", "tools": [{"type": "function", "function": {}}]}),
    ("bad tool_choice", {"messages": "hi", "tool_choice": "sometimes"}),
    ("bad response_format", {"messages": "hi", "response_format": {"type": "yaml"}}),
    ("json_schema without schema", {"messages": "hi", "response_format": {"type": "json_schema"}}),
    ("stream_options not a dict", {"messages": "hi", "stream_options": True}),
    ("extra_body not a dict", {"messages": "hi", "extra_body": [1]}),
    ("timeout negative", {"messages": "hi", "timeout": -1}),
    ("unreadable image path", {"messages": "hi", "image": "/no/such/file.png"}),
    ("image bytes not an image", {"messages": "hi", "image": b"plain text, not an image"}),
    ("image of a wrong type", {"messages": "hi", "image": 3.14}),
    ("bad data URI base64", {"messages": "hi", "image": "data:image/png;base64,!!!not-base64"}),
    ("data URI not base64", {"messages": "hi", "image": "data:image/png,rawdata"}),
    ("data URI not an image", {"messages": "hi", "image": "data:text/plain;base64,aGVsbG8="}),
    (
        "image_url part with a file path",
        {
            "messages": [
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "/x"}}]}
            ]
        },
    ),
    (
        "image_url part without url",
        {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
    ),
]


@pytest.mark.parametrize(("case", "kwargs"), BAD_CHAT_INPUT, ids=[c for c, _ in BAD_CHAT_INPUT])
async def test_bad_input_is_rejected_before_any_provider_call(
    case: str, kwargs: dict[str, Any]
) -> None:
    provider = ScriptedProvider("never")
    client = AsyncClient(provider=provider)
    kwargs = dict(kwargs)  # the parameter list is shared by every run of this test
    stream = kwargs.pop("stream", False)
    with pytest.raises(InvalidRequestError) as info:
        client.chat.completions.create(stream=stream, **kwargs)
    assert provider.requests == []
    assert str(info.value)  # a message that says what is wrong
    assert isinstance(info.value, ValueError)
    if stream is False:
        # the streaming form checks the same input up front too
        with pytest.raises(InvalidRequestError):
            client.chat.completions.create(stream=True, **kwargs)
    assert provider.requests == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"prompt": ""},
        {"prompt": "   "},
        {"prompt": 5},
        {"prompt": "cat", "n": 0},
        {"prompt": "cat", "n": 11},
        {"prompt": "cat", "size": "big"},
        {"prompt": "cat", "response_format": "png"},
        {"prompt": "cat", "model": 3},
    ],
)
async def test_bad_image_input_is_rejected_before_any_provider_call(kwargs: dict[str, Any]) -> None:
    provider = ScriptedProvider(images=[PNG])
    client = AsyncClient(image_provider=provider)
    with pytest.raises(InvalidRequestError):
        await client.images.generate(**kwargs)
    assert provider.image_requests == []


# -- capabilities -----------------------------------------------------------------------------


async def test_image_input_to_a_provider_without_vision() -> None:
    provider = ScriptedProvider("x", capabilities=Capabilities(tools=True), name="blind")
    client = AsyncClient(provider=provider)
    with pytest.raises(UnsupportedCapabilityError, match=r"blind.*image"):
        _ = client.chat.completions.create(messages="what is this?", image=PNG)
    parts = [{"type": "text", "text": "?"}, {"type": "image_url", "image_url": "https://x/y.png"}]
    with pytest.raises(UnsupportedCapabilityError):
        _ = client.chat.completions.create(messages=[{"role": "user", "content": parts}])
    assert provider.requests == []


async def test_tools_to_a_provider_without_tools() -> None:
    provider = ScriptedProvider("x", capabilities=Capabilities(vision=True), name="plain")
    client = AsyncClient(provider=provider)
    tools = [{"type": "function", "function": {"name": "f"}}]
    with pytest.raises(UnsupportedCapabilityError, match=r"plain.*tools"):
        _ = client.chat.completions.create(messages="hi", tools=tools)
    with pytest.raises(UnsupportedCapabilityError, match="json_schema"):
        _ = client.chat.completions.create(
            messages="hi",
            response_format={"type": "json_schema", "json_schema": {"name": "s", "schema": {}}},
        )
    with pytest.raises(UnsupportedCapabilityError, match="n > 1"):
        _ = client.chat.completions.create(messages="hi", n=2)
    assert provider.requests == []


async def test_capable_provider_in_a_list_is_used_when_another_lacks_the_capability() -> None:
    blind = ScriptedProvider("blind", capabilities=Capabilities(), name="blind")
    seeing = ScriptedProvider("seeing", name="seeing")
    client = AsyncClient(provider=[blind, seeing])
    response = await client.chat.completions.create(messages="look", image=PNG)
    assert response.provider == "seeing"
    assert blind.requests == []


async def test_image_generation_without_an_image_provider() -> None:
    client = AsyncClient(provider=ScriptedProvider("text only"))
    with pytest.raises(UnsupportedCapabilityError):
        await client.images.generate(prompt="a cat")


async def test_response_messages_can_be_sent_back_as_history() -> None:
    from openai.types.chat import ChatCompletionMessage as OpenAIMessage

    tool_call = ToolCallDelta(0, id="call_1", name="lookup", arguments='{"q": "x"}')
    provider = ScriptedProvider([tool_call], "final answer")
    client = AsyncClient(provider=provider)
    first = await client.chat.completions.create(messages="look it up")
    assistant = first.choices[0].message
    history = [
        {"role": "user", "content": "look it up"},
        assistant,  # our own response object, as users pass it back
        {"role": "tool", "tool_call_id": "call_1", "content": "42"},
    ]
    await client.chat.completions.create(messages=history)
    sent = provider.requests[1].messages
    assert sent[1] == {
        "role": "assistant",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "lookup", "arguments": '{"q": "x"}'},
            }
        ],
    }
    # an openai SDK message object works the same way
    sdk_message = OpenAIMessage.model_validate(assistant.model_dump())
    await client.chat.completions.create(messages=[history[0], sdk_message, history[2]])
    assert provider.requests[2].messages[1] == sent[1]


async def test_pydantic_model_as_response_format() -> None:
    from pydantic import BaseModel

    class Answer(BaseModel):
        value: int

    provider = ScriptedProvider('{"value": 1}')
    client = AsyncClient(provider=provider)
    await client.chat.completions.create(messages="hi", response_format=Answer)
    fmt = provider.requests[0].response_format
    assert fmt is not None and fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "Answer"
    assert fmt["json_schema"]["schema"]["properties"]["value"]["type"] == "integer"


async def test_per_call_options_override_the_clients() -> None:
    from polymux import Timeout

    provider = ScriptedProvider("ok")
    client = AsyncClient(
        provider=provider, timeout=5, max_retries=3, default_headers={"X-App": "a"}
    )
    await client.chat.completions.create(messages="hi")
    await client.chat.completions.create(
        messages="hi", timeout=2.5, max_retries=0, extra_headers={"X-Trace": "t"}
    )
    await client.chat.completions.create(messages="hi", timeout=None)  # None: no time limit
    await client.chat.completions.create(messages="hi", timeout=Timeout(total=9, idle=1))
    default, custom, unlimited, explicit = (r.options for r in provider.requests)
    assert (default.timeout.total, default.max_retries) == (5.0, 3)
    assert default.extra_headers == {"X-App": "a"}
    assert (custom.timeout.total, custom.max_retries) == (2.5, 0)
    assert custom.extra_headers == {"X-App": "a", "X-Trace": "t"}
    assert (unlimited.timeout.total, unlimited.timeout.connect) == (None, None)
    assert unlimited.max_retries == 3
    assert explicit.timeout == Timeout(total=9, idle=1)


async def test_ids_and_timestamps_are_made_up_when_the_upstream_sends_none() -> None:
    import re
    import time

    from polymux.types import ResponseInfo

    client = AsyncClient(provider=ScriptedProvider(["Hel", "lo"]))
    before = int(time.time())
    full = await client.chat.completions.create(messages="hi")
    chunks = [c async for c in client.chat.completions.create(messages="hi", stream=True)]
    after = int(time.time())
    assert re.fullmatch(r"chatcmpl-[0-9a-f]{24}", full.id)
    assert before <= full.created <= after
    assert len({c.id for c in chunks}) == 1 and len({c.created for c in chunks}) == 1
    assert chunks[0].id != full.id and re.fullmatch(r"chatcmpl-[0-9a-f]{24}", chunks[0].id)
    assert before <= chunks[0].created <= after
    # An upstream that names its response keeps its own id and time, even with no text.
    info = ResponseInfo(id="chatcmpl-up", created=1_700_000_000)
    named = await AsyncClient(provider=ScriptedProvider([info])).chat.completions.create(
        messages="hi"
    )
    assert (named.id, named.created) == ("chatcmpl-up", 1_700_000_000)


async def test_subclasses_of_event_types_are_folded_like_their_base() -> None:
    class Piece(str):
        pass

    class Done(Finish):
        pass

    client = AsyncClient(provider=ScriptedProvider([Piece("Hel"), TextDelta("lo"), Done("length")]))
    full = await client.chat.completions.create(messages="hi")
    assert full.choices[0].message.content == "Hello"
    assert full.choices[0].finish_reason == "length"
