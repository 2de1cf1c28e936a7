"""The one fold: a non-streamed answer's WholeChoice builds the same response as its deltas,
and the fields a caller reads come out as documented."""

from __future__ import annotations

import random

import pytest

from polymux.client.fold import ResponseFold
from polymux.types import (
    ChatCompletion,
    ChatEvent,
    ChatRequest,
    Finish,
    ResponseInfo,
    TextDelta,
    ToolCallDelta,
    Usage,
    WholeChoice,
)

CALLS = [
    ToolCallDelta(call_index=0, id="call_1", name="lookup", arguments='{"q": "foxes"}'),
    ToolCallDelta(call_index=1, id=None, name="now", arguments="{}"),
]


def fold(
    events: list[ChatEvent],
    stop: list[str] | None = None,
    messages: list[dict[str, object]] | None = None,
) -> ChatCompletion:
    random.seed(7)  # tool-call ids the upstream left out are drawn at random
    request = ChatRequest(
        model="m", messages=messages or [{"role": "user", "content": "hi"}], stop=stop
    )
    folding = ResponseFold(request, "p")
    folding.feed(events)
    folding.close()
    return folding.completion()


def test_a_whole_answer_gives_the_expected_fields() -> None:
    whole = WholeChoice(text="Calling and", finish="tool_calls", tool_calls=CALLS)
    info = ResponseInfo(id="chatcmpl-1", model="served", created=1767225600)
    response = fold([info, whole, WholeChoice(text="", finish="stop", index=1), Usage(3, 5)])
    assert (response.id, response.model, response.created) == ("chatcmpl-1", "served", 1767225600)
    assert response.usage is not None
    assert (response.usage.total_tokens, response.usage.estimated) == (8, None)
    first, second = response.choices
    assert first.message.content == "Calling and"
    assert first.finish_reason == "tool_calls"
    calls = first.message.tool_calls or []
    assert [c.function.name for c in calls] == ["lookup", "now"]
    assert calls[0].id == "call_1" and calls[1].id.startswith("call_")
    assert second.finish_reason == "stop" and second.message.content == ""
    reasoning = WholeChoice(text="Answer.", finish="stop", reasoning="Because.")
    assert fold([reasoning]).choices[0].message.reasoning_content == "Because."
    refusal = WholeChoice(text="", finish="stop", refusal="I cannot help with that.")
    assert fold([refusal]).choices[0].message.refusal == "I cannot help with that."


def test_a_whole_choice_is_cut_by_a_stop_sequence_like_its_text() -> None:
    response = fold([WholeChoice(text="The fox and the dog.", finish="length")], stop=[" and"])
    assert response.choices[0].message.content == "The fox"
    assert response.choices[0].finish_reason == "stop"


def test_a_stop_list_whose_first_entry_never_occurs_still_cuts_at_the_second() -> None:
    response = fold([TextDelta("The fox"), TextDelta(" and the dog.")], stop=["never", " and"])
    assert response.choices[0].message.content == "The fox"
    assert response.choices[0].finish_reason == "stop"


def test_the_usage_estimate_counts_the_messages_sent() -> None:
    answer: list[ChatEvent] = [TextDelta("Fine."), Finish("stop")]
    short = fold(answer, messages=[{"role": "user", "content": "hi"}]).usage
    long = fold(answer, messages=[{"role": "user", "content": "hi " * 400}]).usage
    assert short is not None and long is not None
    assert short.estimated and long.estimated
    # About four characters a token, plus four a message.
    assert (short.prompt_tokens, long.prompt_tokens) == ((2 + 3) // 4 + 4, 1200 // 4 + 4)
    assert long.completion_tokens == short.completion_tokens == 2


def test_a_stream_may_not_carry_a_whole_choice() -> None:
    request = ChatRequest(model="m", messages=[{"role": "user", "content": "hi"}], stream=True)
    with pytest.raises(TypeError, match="WholeChoice"):
        ResponseFold(request, "p").apply(WholeChoice(text="text", finish="stop"))
