"""Fields of the folded responses that a caller reads: the role on a stream's first delta only,
choices in index order whatever order they arrive in, usage details, and the usage estimate of
tool calls."""

from __future__ import annotations

import pytest

from polymux.client.fold import ResponseFold
from polymux.types import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatEvent,
    ChatRequest,
    Finish,
    ReasoningDelta,
    RefusalDelta,
    TextDelta,
    ToolCallDelta,
    Usage,
)


def _request(stream: bool, n: int | None = None) -> ChatRequest:
    return ChatRequest(model="m", messages=[{"role": "user", "content": "hi"}], stream=stream, n=n)


def fold(events: list[ChatEvent], n: int | None = None) -> ChatCompletion:
    folding = ResponseFold(_request(False, n), "p")
    folding.feed(events)
    folding.close()
    return folding.completion()


def chunks(events: list[ChatEvent], n: int | None = None) -> list[ChatCompletionChunk]:
    folding = ResponseFold(_request(True, n), "p")
    out = [c for c in map(folding.apply, events) if c is not None]
    return out + folding.close()


def test_only_the_first_delta_of_a_choice_says_its_role() -> None:
    got = chunks([TextDelta("a"), TextDelta("b"), TextDelta("c", index=1), Finish("stop")])
    roles = [(c.choices[0].index, c.choices[0].delta.role) for c in got if c.choices]
    assert roles[:3] == [(0, "assistant"), (0, None), (1, "assistant")]


@pytest.mark.parametrize("first", [1, 2])
def test_choices_come_in_index_order_whatever_order_they_arrive_in(first: int) -> None:
    events: list[ChatEvent] = [TextDelta(str(first), index=first)]
    events += [TextDelta(str(i), index=i) for i in range(3) if i != first]
    response = fold(events, n=3)
    assert [c.index for c in response.choices] == [0, 1, 2]
    assert [c.message.content for c in response.choices] == ["0", "1", "2"]
    finishes = [c.choices[0].index for c in chunks(events, n=3)[3:]]
    assert finishes == [0, 1, 2]  # close() finishes the open choices in order too


def test_reported_usage_keeps_its_details_and_only_those_given() -> None:
    detailed = fold([TextDelta("x"), Usage(10, 4, cached_tokens=6, reasoning_tokens=3)]).usage
    assert detailed is not None
    assert detailed.prompt_tokens_details is not None
    assert detailed.prompt_tokens_details.cached_tokens == 6
    assert detailed.completion_tokens_details is not None
    assert detailed.completion_tokens_details.reasoning_tokens == 3
    plain = fold([TextDelta("x"), Usage(10, 4)]).usage
    assert plain is not None
    assert plain.prompt_tokens_details is None and plain.completion_tokens_details is None
    assert (plain.prompt_tokens, plain.completion_tokens, plain.total_tokens) == (10, 4, 14)


def test_the_usage_estimate_counts_tool_calls() -> None:
    call = ToolCallDelta(call_index=0, id="c", name="lookup", arguments='{"q": "foxes"}')
    usage = fold([call, Finish("tool_calls")]).usage
    assert usage is not None and usage.estimated
    # "lookup" + '{"q": "foxes"}' is 20 characters: 5 tokens at about four a token.
    assert usage.completion_tokens == 5


def test_the_stop_sequence_that_ends_first_wins_whatever_the_list_order() -> None:
    for stop in (["abcd", "bc"], ["bc", "abcd"]):
        folding = ResponseFold(
            ChatRequest(model="m", messages=[{"role": "user", "content": "hi"}], stop=stop), "p"
        )
        folding.feed([TextDelta("xabcde")])
        folding.close()
        assert folding.completion().choices[0].message.content == "xa"


def test_a_streamed_tool_call_sends_its_name_then_its_argument_pieces() -> None:
    pieces: list[ChatEvent] = [
        ToolCallDelta(call_index=0, id="call_1", name="lookup", arguments=""),
        ToolCallDelta(call_index=0, arguments='{"q": '),
        ToolCallDelta(call_index=0, arguments='"foxes"}'),
        Finish("stop"),
    ]
    got = [c.choices[0].delta.tool_calls for c in chunks(pieces) if c.choices]
    sent = [(d[0].id, d[0].function and d[0].function.arguments) for d in got if d]
    assert sent == [("call_1", ""), (None, '{"q": '), (None, '"foxes"}')]
    whole = fold(pieces).choices[0]
    assert whole.finish_reason == "tool_calls"
    calls = whole.message.tool_calls or []
    assert [(c.id, c.function.arguments) for c in calls] == [("call_1", '{"q": "foxes"}')]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_response_info_after_content_changes_nothing(stream: bool) -> None:
    from polymux.types import ResponseInfo

    late = ResponseInfo(id="chatcmpl-late", model="late-model", created=1)
    events: list[ChatEvent] = [
        ToolCallDelta(call_index=0, id="c", name="f", arguments="{}"),
        late,
        Finish("stop"),
    ]
    if stream:
        ids = {c.id for c in chunks(events)}
        models = {c.model for c in chunks(events)}
    else:
        response = fold(events)
        ids, models = {response.id}, {response.model}
    assert "chatcmpl-late" not in ids and models == {"m"}


def test_the_upstreams_fingerprint_is_kept() -> None:
    from polymux.types import ResponseInfo

    info = ResponseInfo(id="chatcmpl-1", model="m", created=1, system_fingerprint="fp_1")
    assert fold([info, TextDelta("x")]).system_fingerprint == "fp_1"
    assert fold([TextDelta("x")]).system_fingerprint is None


def test_a_stop_sequence_that_overlaps_itself_is_found_whatever_the_split() -> None:
    # "abab" ends with its own start "ab": the longest possible start must be held back.
    text = "say abab then more"
    for at in range(1, len(text)):
        request = ChatRequest(
            model="m", messages=[{"role": "user", "content": "hi"}], stop=["abab"]
        )
        folding = ResponseFold(request, "p")
        folding.feed([TextDelta(text[:at]), TextDelta(text[at:])])
        folding.close()
        choice = folding.completion().choices[0]
        assert (choice.message.content, choice.finish_reason) == ("say ", "stop"), at


def test_two_choices_that_arrive_in_reverse_come_in_index_order() -> None:
    events: list[ChatEvent] = [TextDelta("1", index=1), TextDelta("0", index=0)]
    assert [c.message.content for c in fold(events, n=2).choices] == ["0", "1"]
    finishes = [c.choices[0].index for c in chunks(events, n=2)[2:]]
    assert finishes == [0, 1]


def test_a_streamed_refusal_is_sent_as_it_arrives() -> None:
    got = chunks([RefusalDelta("I cannot "), RefusalDelta("help."), Finish("stop")])
    refusals = [c.choices[0].delta.refusal for c in got if c.choices]
    assert refusals[:2] == ["I cannot ", "help."]
    assert fold([RefusalDelta("I cannot help.")]).choices[0].message.refusal == "I cannot help."


def test_an_empty_answer_is_one_finished_choice_at_index_zero() -> None:
    assert [(c.index, c.finish_reason) for c in fold([]).choices] == [(0, "stop")]
    last = chunks([])[-1].choices[0]
    assert (last.index, last.finish_reason) == (0, "stop")


def test_what_arrives_after_a_choice_finished_is_left_out() -> None:
    late: list[ChatEvent] = [TextDelta("a"), Finish("stop"), TextDelta("b"), ReasoningDelta("c")]
    message = fold(late).choices[0].message
    assert (message.content, message.reasoning_content) == ("a", None)


def test_response_info_after_text_changes_nothing_either() -> None:
    from polymux.types import ResponseInfo

    response = fold([TextDelta("x"), ResponseInfo(id="chatcmpl-late", model="late", created=1)])
    assert (response.id, response.model) != ("chatcmpl-late", "late")
    assert response.model == "m"


def test_a_tool_name_repeated_on_every_piece_is_sent_once_and_never_renames() -> None:
    pieces: list[ChatEvent] = [
        ToolCallDelta(call_index=0, id="call_1", name="lookup", arguments=""),
        ToolCallDelta(call_index=0, name="lookup", arguments="{}"),
        ToolCallDelta(call_index=0, name="other", arguments=""),
    ]
    got = [c.choices[0].delta.tool_calls for c in chunks(pieces) if c.choices]
    names = [d[0].function.name for d in got if d and d[0].function]
    assert names == ["lookup", None]
    calls = fold(pieces).choices[0].message.tool_calls or []
    assert [c.function.name for c in calls] == ["lookup"]


def test_the_usage_estimate_counts_reasoning_as_completion() -> None:
    usage = fold([ReasoningDelta("r" * 8), TextDelta("t" * 4)]).usage
    assert usage is not None and usage.estimated
    assert usage.completion_tokens == 2 + 1


def test_text_that_cannot_start_a_stop_sequence_is_sent_whole() -> None:
    request = ChatRequest(
        model="m", messages=[{"role": "user", "content": "hi"}], stop=["END"], stream=True
    )
    folding = ResponseFold(request, "p")
    chunk = folding.apply(TextDelta("Hello"))
    assert chunk is not None and chunk.choices[0].delta.content == "Hello"
