"""Every object polymux returns validates with the official ``openai`` types."""

from __future__ import annotations

import json
from typing import Any, Literal

from openai.types import ImagesResponse as OpenAIImagesResponse
from openai.types import Model as OpenAIModel
from openai.types.chat import ChatCompletion as OpenAIChatCompletion
from openai.types.chat import ChatCompletionChunk as OpenAIChatCompletionChunk
from openai.types.chat import ChatCompletionMessageFunctionToolCall

from polymux import AsyncClient
from polymux.testing import ScriptedProvider
from polymux.types import (
    ChatCompletion,
    ChatCompletionChunk,
    Finish,
    ReasoningDelta,
    RefusalDelta,
    ResponseInfo,
    TextDelta,
    ToolCallDelta,
    Usage,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24

TOOL_SCRIPT: list[Any] = [
    ResponseInfo(id="chatcmpl-upstream", model="scripted-model-2024", system_fingerprint="fp_1"),
    ReasoningDelta("thinking about "),
    ReasoningDelta("the weather"),
    ToolCallDelta(0, id="call_a", name="get_weather", arguments='{"ci'),
    ToolCallDelta(0, arguments='ty": "Paris"}'),
    ToolCallDelta(1, id="call_b", name="get_time", arguments="{}"),
    Finish("stop"),  # a provider that says "stop" after tool calls means tool_calls
    Usage(prompt_tokens=11, completion_tokens=7, cached_tokens=3, reasoning_tokens=2),
]


async def chat(
    script: list[Any], **params: Any
) -> tuple[ChatCompletion, list[ChatCompletionChunk]]:
    client = AsyncClient(provider=ScriptedProvider(script))
    full = await client.chat.completions.create(messages="hi", **params)
    chunks = [c async for c in client.chat.completions.create(messages="hi", stream=True, **params)]
    return full, chunks


def check_completion(ours: ChatCompletion) -> OpenAIChatCompletion:
    theirs = OpenAIChatCompletion.model_validate(ours.model_dump())
    assert json.loads(ours.model_dump_json()) == ours.model_dump()
    assert ours.to_dict() == ours.model_dump()
    assert json.loads(ours.to_json()) == ours.model_dump()
    assert OpenAIChatCompletion.model_validate_json(ours.model_dump_json()) == theirs
    return theirs


def check_chunks(chunks: list[ChatCompletionChunk]) -> list[OpenAIChatCompletionChunk]:
    assert chunks
    out = []
    for chunk in chunks:
        out.append(OpenAIChatCompletionChunk.model_validate(chunk.model_dump()))
        OpenAIChatCompletionChunk.model_validate_json(chunk.model_dump_json())
    return out


async def test_plain_text_validates() -> None:
    full, chunks = await chat(["Hello", " there"])
    theirs = check_completion(full)
    assert theirs.choices[0].message.content == "Hello there"
    assert theirs.choices[0].finish_reason == "stop"
    assert theirs.model_extra is not None and theirs.model_extra["provider"] == "scripted"
    check_chunks(chunks)


async def test_tool_calls_reasoning_and_usage_validate() -> None:
    full, chunks = await chat(TOOL_SCRIPT, tools=[{"function": {"name": "get_weather"}}])
    theirs = check_completion(full)
    assert theirs.id == "chatcmpl-upstream"
    assert theirs.model == "scripted-model-2024"
    assert theirs.system_fingerprint == "fp_1"
    choice = theirs.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = choice.message.tool_calls
    assert calls is not None
    functions = [c for c in calls if isinstance(c, ChatCompletionMessageFunctionToolCall)]
    assert len(functions) == len(calls)
    assert [(c.id, c.function.name, c.function.arguments) for c in functions] == [
        ("call_a", "get_weather", '{"city": "Paris"}'),
        ("call_b", "get_time", "{}"),
    ]
    assert full.choices[0].message.reasoning_content == "thinking about the weather"
    usage = theirs.usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (11, 7, 18)
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 3
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 2
    assert full.usage is not None and full.usage.estimated is None
    assert "estimated" not in full.model_dump()["usage"]

    parsed = check_chunks(chunks)
    # Reassemble the streamed tool calls as an OpenAI SDK user would.
    calls_by_index: dict[int, dict[str, str]] = {}
    reasoning = ""
    for chunk in chunks:
        for c in chunk.choices:
            reasoning += c.delta.reasoning_content or ""
            for delta in c.delta.tool_calls or ():
                entry = calls_by_index.setdefault(delta.index, {"id": "", "name": "", "args": ""})
                if delta.id:
                    entry["id"] = delta.id
                if delta.function and delta.function.name:
                    entry["name"] += delta.function.name
                if delta.function and delta.function.arguments:
                    entry["args"] += delta.function.arguments
    assert calls_by_index == {
        0: {"id": "call_a", "name": "get_weather", "args": '{"city": "Paris"}'},
        1: {"id": "call_b", "name": "get_time", "args": "{}"},
    }
    assert reasoning == "thinking about the weather"
    finishes = [c.finish_reason for p in parsed for c in p.choices if c.finish_reason]
    assert finishes == ["tool_calls"]
    first_tool = next(p for p in parsed if p.choices and p.choices[0].delta.tool_calls)
    tool_delta = first_tool.choices[0].delta.tool_calls
    assert tool_delta is not None and tool_delta[0].type == "function"


async def test_tool_call_ids_are_generated_when_the_provider_sends_none() -> None:
    full, chunks = await chat([ToolCallDelta(0, name="f", arguments="{}")])
    calls = full.choices[0].message.tool_calls
    assert calls is not None and calls[0].id.startswith("call_")
    stream_ids = [
        d.id for c in chunks for ch in c.choices for d in ch.delta.tool_calls or () if d.id
    ]
    assert len(stream_ids) == 1 and stream_ids[0].startswith("call_")
    assert full.choices[0].finish_reason == "tool_calls"


async def test_refusal_validates() -> None:
    full, chunks = await chat([RefusalDelta("I can't "), RefusalDelta("help"), Finish("stop")])
    theirs = check_completion(full)
    assert theirs.choices[0].message.refusal == "I can't help"
    check_chunks(chunks)


async def test_estimated_usage_says_it_is_one() -> None:
    full, _ = await chat(["a" * 40])
    theirs = check_completion(full)
    assert full.usage is not None and full.usage.estimated is True
    assert theirs.usage is not None
    assert theirs.usage.completion_tokens == 10
    assert theirs.usage.total_tokens == theirs.usage.prompt_tokens + 10
    assert theirs.usage.model_extra == {"estimated": True}


async def test_stream_usage_chunk_with_include_usage() -> None:
    _, chunks = await chat(
        ["hello", Usage(prompt_tokens=5, completion_tokens=2)],
        stream_options={"include_usage": True},
    )
    parsed = check_chunks(chunks)
    last = parsed[-1]
    assert last.choices == []
    assert last.usage is not None and last.usage.total_tokens == 7
    # every other chunk has no usage, as in OpenAI's stream
    assert all(p.usage is None for p in parsed[:-1])
    _, estimated = await chat(["hello"], stream_options={"include_usage": True})
    assert estimated[-1].usage is not None and estimated[-1].usage.estimated is True
    check_chunks(estimated)


async def test_n_choices_validate() -> None:
    script = [TextDelta("x", 0), TextDelta("y", 1), TextDelta("z", 2)]
    full, chunks = await chat(script, n=3)
    theirs = check_completion(full)
    assert [c.message.content for c in theirs.choices] == ["x", "y", "z"]
    assert [c.finish_reason for c in theirs.choices] == ["stop", "stop", "stop"]
    parsed = check_chunks(chunks)
    finished = sorted(c.index for p in parsed for c in p.choices if c.finish_reason)
    assert finished == [0, 1, 2]


async def test_every_finish_reason_validates() -> None:
    for reason in ("stop", "length", "tool_calls", "content_filter"):
        full, chunks = await chat(["text", Finish(reason)])
        assert check_completion(full).choices[0].finish_reason == reason
        assert check_chunks(chunks)[-1].choices[0].finish_reason == reason


async def test_empty_answer_still_has_one_finished_choice() -> None:
    full, chunks = await chat([Usage(prompt_tokens=1, completion_tokens=0)])
    theirs = check_completion(full)
    assert len(theirs.choices) == 1
    assert theirs.choices[0].message.content == ""
    assert theirs.choices[0].finish_reason == "stop"
    assert check_chunks(chunks)[-1].choices[0].finish_reason == "stop"


async def test_images_response_validates() -> None:
    # b64_json from a URL would need a download: URLs are covered in url format only
    cases: list[tuple[Literal["url", "b64_json"], list[str | bytes]]] = [
        ("url", [PNG, "https://img.example/cat.png"]),
        ("b64_json", [PNG]),
    ]
    for fmt, images in cases:
        client = AsyncClient(image_provider=ScriptedProvider(images=images))
        ours = await client.images.generate(prompt="a cat", n=2, response_format=fmt)
        theirs = OpenAIImagesResponse.model_validate(ours.model_dump())
        assert theirs.data is not None and len(theirs.data) == 2
        OpenAIImagesResponse.model_validate_json(ours.model_dump_json())
        assert ours.provider == "scripted"


async def test_models_validate() -> None:
    client = AsyncClient(
        provider=ScriptedProvider(models=["m1", "m2"], image_models=["img-1"], name="p")
    )
    models = await client.models.list()
    for model in models:
        theirs = OpenAIModel.model_validate(model.model_dump())
        assert theirs.owned_by == "p"
        assert theirs.object == "model"
    assert [m.id for m in models] == ["m1", "m2", "img-1"]
    assert models.model_dump()["object"] == "list"


async def test_tool_name_arriving_after_the_call_started_is_streamed() -> None:
    script = [
        ToolCallDelta(0, id="call_x", arguments='{"a"'),
        ToolCallDelta(0, name="late_name"),
        ToolCallDelta(0, arguments=": 1}"),
    ]
    full, chunks = await chat(script)
    calls = full.choices[0].message.tool_calls
    assert calls is not None
    assert (calls[0].function.name, calls[0].function.arguments) == ("late_name", '{"a": 1}')
    parsed = check_chunks(chunks)
    names = "".join(
        d.function.name or ""
        for p in parsed
        for c in p.choices
        for d in c.delta.tool_calls or ()
        if d.function
    )
    args = "".join(
        d.function.arguments or ""
        for p in parsed
        for c in p.choices
        for d in c.delta.tool_calls or ()
        if d.function
    )
    assert (names, args) == ("late_name", '{"a": 1}')
