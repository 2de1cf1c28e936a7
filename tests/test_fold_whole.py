"""A non-streamed answer's WholeChoice folds exactly as its deltas would.

The fold keeps a whole choice as it is when nothing can differ (a fresh choice, no stop
sequences, no tool calls) and applies it as its deltas otherwise, or as soon as another event
touches it (a later delta, a missing finish, usage to estimate); every path must give the
same response, field for field. ``whole_answer`` builds the usual whole answer without a fold
at all: it must give what the fold gives, or step aside.
"""

from __future__ import annotations

import random

import pytest

from polymux.client.fold import ResponseFold, whole_answer
from polymux.providers.base import Provider
from polymux.types.chat import ChatCompletion
from polymux.types.events import (
    ChatEvent,
    ResponseInfo,
    TextDelta,
    ToolCallDelta,
    Usage,
    WholeChoice,
)
from polymux.types.request import ChatRequest

CALLS = [
    ToolCallDelta(0, "call_1", "lookup", '{"q": "foxes"}'),
    ToolCallDelta(1, None, "now", "{}"),
]

WHOLES = {
    "text": WholeChoice("The fox and the dog.", "stop"),
    "cut by length": WholeChoice("The fox and", "length"),
    "no finish": WholeChoice("unfinished and", None),
    "empty": WholeChoice("", None),
    "empty, finished": WholeChoice("", "stop"),
    "reasoning": WholeChoice("Answer and more.", "stop", reasoning="Because and so."),
    "refusal": WholeChoice("", "stop", refusal="I cannot help with that."),
    "tool calls": WholeChoice("", "stop", tool_calls=CALLS),
    "text and tool calls": WholeChoice("Calling and", "tool_calls", tool_calls=CALLS),
    "second choice": WholeChoice("Other and", "stop", index=1),
}


def fold(
    events: list[ChatEvent], stop: list[str] | None, model: str | None = None
) -> ChatCompletion:
    random.seed(7)  # tool-call ids the upstream left out are drawn at random
    request = ChatRequest("m", [{"role": "user", "content": "hi"}], stop=stop)
    folding = ResponseFold(request, "p", model)
    for event in events:
        folding.apply(event)
    folding.close()
    return folding.completion()


@pytest.mark.parametrize("usage", [[Usage(3, 5)], []], ids=["usage", "estimated usage"])
@pytest.mark.parametrize("after", [[], [TextDelta(" After.")]], ids=["alone", "text after"])
@pytest.mark.parametrize("stop", [None, [" and"]], ids=["no stop", "stop sequence"])
@pytest.mark.parametrize("before", [[], [TextDelta("Before. ")]], ids=["fresh", "after text"])
@pytest.mark.parametrize("name", WHOLES)
def test_a_whole_choice_folds_as_its_deltas(
    name: str,
    before: list[ChatEvent],
    stop: list[str] | None,
    after: list[ChatEvent],
    usage: list[ChatEvent],
) -> None:
    whole = WHOLES[name]
    head: list[ChatEvent] = [ResponseInfo("chatcmpl-1", "m", 1767225600), *before]
    tail: list[ChatEvent] = [*after, *usage]
    as_whole = fold([*head, whole, *tail], stop)
    as_deltas = fold([*head, *whole.deltas(), *tail], stop)
    assert as_whole.model_dump() == as_deltas.model_dump()


def test_the_fast_path_gives_the_expected_fields() -> None:
    # Against the expected values, not only against the delta path.
    response = fold([WHOLES["text and tool calls"], WholeChoice("", "stop", 1)], None)
    first, second = response.choices
    assert first.message.content == "Calling and"
    assert first.finish_reason == "tool_calls"
    calls = first.message.tool_calls or []
    assert [c.function.name for c in calls] == ["lookup", "now"]
    assert calls[0].id == "call_1" and calls[1].id.startswith("call_")
    assert second.finish_reason == "stop" and second.message.content == ""
    reasoning = fold([WHOLES["reasoning"]], None).choices[0].message
    assert reasoning.reasoning_content == "Because and so."
    assert fold([WHOLES["refusal"]], None).choices[0].message.refusal == "I cannot help with that."


def test_a_stream_may_not_carry_a_whole_choice() -> None:
    request = ChatRequest("m", [{"role": "user", "content": "hi"}], stream=True)
    with pytest.raises(TypeError, match="WholeChoice"):
        ResponseFold(request, "p").apply(WholeChoice("text", "stop"))


class _Named(Provider):
    name = "p"
    default_model = "the-default"


INFOS = {
    "full": ResponseInfo("chatcmpl-1", "served-model", 1767225600, "fp_1"),
    "no model": ResponseInfo("chatcmpl-1", None, 1767225600),
    "empty fingerprint": ResponseInfo("chatcmpl-1", "m", 1767225600, ""),
    "no id": ResponseInfo(None, "m", 1767225600),
    "no time": ResponseInfo("chatcmpl-1", "m", None),
}
USAGES = {
    "plain": Usage(3, 5),
    "details": Usage(3, 5, cached_tokens=2, reasoning_tokens=4),
}


@pytest.mark.parametrize("asked", ["m", ""], ids=["model asked", "no model asked"])
@pytest.mark.parametrize("usage", USAGES)
@pytest.mark.parametrize("info", INFOS)
@pytest.mark.parametrize("name", WHOLES)
@pytest.mark.parametrize("stop", [None, [" and"]], ids=["no stop", "stop sequence"])
def test_a_whole_answer_without_a_fold_is_what_the_fold_gives(
    name: str, info: str, usage: str, asked: str, stop: list[str] | None
) -> None:
    provider = _Named()
    events: list[ChatEvent] = [INFOS[info], WHOLES[name], USAGES[usage]]
    request = ChatRequest(asked, [{"role": "user", "content": "hi"}], stop=stop)
    built = whole_answer(events, request, provider)
    folded = fold(events, stop, provider.resolve_model(asked))
    if built is None:
        # It steps aside for whatever the fold must decide: stop sequences, tool calls, a
        # missing finish, a second choice, an id or time to make up.
        assert (
            stop
            or name in ("no finish", "empty", "tool calls", "text and tool calls", "second choice")
            or info in ("no id", "no time")
        )
        return
    assert not stop and info not in ("no id", "no time")
    assert built.model_dump() == folded.model_dump()
    assert built.provider == "p"


def test_whole_answer_takes_only_the_usual_shape() -> None:
    request = ChatRequest("m", [{"role": "user", "content": "hi"}])
    info, whole, usage = INFOS["full"], WHOLES["text"], USAGES["plain"]
    built = whole_answer([info, whole, usage], request, _Named())
    assert built is not None
    assert built.id == "chatcmpl-1" and built.model == "served-model" and built.created
    assert built.choices[0].message.content == "The fox and the dog."
    assert built.usage is not None and built.usage.total_tokens == 8
    for events in ([info, whole], [whole, info, usage], [info, whole, usage, TextDelta("x")]):
        assert whole_answer(events, request, _Named()) is None
