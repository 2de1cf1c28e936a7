"""Replay of real recorded API traffic (../shared/recordings: public VCR cassettes of Anthropic,
Gemini, OpenAI, Groq, Mistral, OpenRouter and other hosts; see its README).

For every recorded chat interaction: a loopback server answers with the recorded status,
content type and body, written in small awkward pieces; the equivalent request goes through
polymux's provider for that host (streamed when the recording was); the answer's text,
reasoning, tool calls (names, JSON arguments, ids), finish reason, usage and error type must
match the recorded body as the host's documented wire format reads it (tests/replay/answers.py),
and the request polymux sent must carry the recorded request's essential fields
(tests/replay/requests.py).

An interaction that cannot apply is skipped with its reason: ``requests.NotApplicable`` for
requests OpenAI-shaped input cannot express, ``NOT_APPLICABLE`` below for the rest. Of the 978
recorded chat interactions, 823 replay; the 155 that cannot (``REPLAYED`` pins the count, so a
translation that starts refusing more cannot hide) send what polymux's OpenAI-shaped input has
no form for:
  - files, audio, video and documents (OpenAI ``file`` / ``input_audio`` / ``video_url`` /
    ``document_url`` parts, Gemini ``fileData`` and non-image ``inlineData``, Anthropic
    ``document`` blocks and tool results holding them or search results): 116;
  - Anthropic server-tool, MCP, compaction, redacted-thinking and ``tool_addition`` blocks in
    the history, and system messages in the middle of a conversation: 28;
  - Gemini server-side ``toolCall`` / ``executableCode`` parts in the history: 4;
  - five Hugging Face cassettes that kept no request body, one Ollama ``images`` field and one
    assistant message holding a Mistral ``thinking`` part.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from polymux import AsyncClient
from polymux.errors import (
    APIError,
    APIStatusError,
    BadRequestError,
    NotFoundError,
    RateLimitError,
)
from tests.replay import answers
from tests.replay import requests as wire
from tests.replay.requests import NotApplicable
from tests.replay.server import RECORDINGS, Interaction, ReplayServer, load


@dataclass(frozen=True)
class Dialect:
    """How one recorded host is replayed: the polymux provider, the path under the server
    its base URL ends with, the request translation, its check, and the answer's reading."""

    provider: str
    base_path: str
    endpoint: str  # the path polymux must post to (its tail)
    call: Callable[[Interaction], dict[str, Any]]
    check: Callable[[Interaction, str, Any], None]
    expect: Callable[[Interaction], answers.Expected]


def _openai(provider: str, base_path: str = "/v1") -> Dialect:
    return Dialect(
        provider,
        base_path,
        "/chat/completions",
        lambda r: wire.openai_call(r.request),
        lambda r, path, sent: wire.check_openai(r.request, sent),
        answers.openai,
    )


DIALECTS: dict[str, Dialect] = {
    name: _openai(name)
    for name in (
        "openai",
        "groq",
        "openrouter",
        "mistral",
        "cerebras",
        "deepseek",
        "huggingface",
        "gemini-openai",
        "ollama-openai",
        "openai-compatible",
    )
}
DIALECTS["azure"] = _openai("azure", "")
DIALECTS["anthropic"] = Dialect(
    "anthropic",
    "",
    "/v1/messages",
    lambda r: wire.anthropic_call(r.request),
    lambda r, path, sent: wire.check_anthropic(r.request, sent),
    answers.anthropic,
)
DIALECTS["gemini"] = Dialect(
    "gemini",
    "/v1beta",
    "Content",
    lambda r: wire.gemini_call(r.request, wire.gemini_model(r.uri)),
    wire.check_gemini,
    answers.gemini,
)
DIALECTS["ollama"] = Dialect(
    "ollama",
    "",
    "/api/chat",
    lambda r: wire.ollama_call(r.request),
    lambda r, path, sent: wire.check_ollama(r.request, sent),
    answers.ollama,
)

#: Interactions that cannot apply for a reason the request translation does not see.
NOT_APPLICABLE: dict[str, str] = {}
#: How many recorded chat interactions replay (the rest are not applicable, as above).
REPLAYED = 823

RECORDS = load() if RECORDINGS.is_dir() else []
pytestmark = pytest.mark.skipif(
    not RECORDS, reason=f"no recordings at {RECORDINGS} (CI puts shared/ beside the clone)"
)


def _served_body(record: Interaction) -> tuple[str, bytes]:
    """The content type and bytes to serve. A Gemini stream llm-gemini stored as one JSON
    array is served as the SSE stream polymux asks for (``alt=sse``), one event per element."""
    if record.provider == "gemini" and record.stream and "event-stream" not in record.content_type:
        events = "".join(f"data: {json.dumps(p)}\r\n\r\n" for p in answers.gemini_pieces(record))
        return "text/event-stream", events.encode()
    return record.content_type, record.body.encode()


@pytest.fixture(scope="module")
def replay_server() -> Iterator[ReplayServer]:
    with ReplayServer() as server:
        for record in RECORDS:
            server.add(record.status, *_served_body(record))
        yield server


@dataclass
class Answer:
    text: str
    reasoning: str
    tool_calls: list[tuple[str, str, Any]]
    finish: str | None
    usage: Any


async def _ask(client: AsyncClient, call: dict[str, Any], stream: bool) -> Answer:
    if not stream:
        response = await client.chat.completions.create(**call)
        choice = response.choices[0]
        message = choice.message
        calls = [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or ()]
        return Answer(
            message.content or "",
            message.reasoning_content or "",
            calls,
            choice.finish_reason,
            response.usage,
        )
    text, reasoning, finish, usage = "", "", None, None
    tools: dict[int, list[str]] = {}
    chunks = client.chat.completions.create(
        **call, stream=True, stream_options={"include_usage": True}
    )
    async for chunk in chunks:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            if choice.index:
                continue
            delta = choice.delta
            text += delta.content or ""
            reasoning += delta.reasoning_content or ""
            for call_delta in delta.tool_calls or ():
                entry = tools.setdefault(call_delta.index, ["", "", ""])
                entry[0] = entry[0] or call_delta.id or ""
                fn = call_delta.function
                if fn is not None:
                    entry[1] += fn.name or ""
                    entry[2] += fn.arguments or ""
            finish = choice.finish_reason or finish
    return Answer(text, reasoning, [(i, n, a) for i, n, a in tools.values()], finish, usage)


_STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    404: NotFoundError,
    429: RateLimitError,
}


@pytest.mark.parametrize("number", range(len(RECORDS)), ids=[r.key for r in RECORDS])
async def test_replay(number: int, replay_server: ReplayServer) -> None:
    record = RECORDS[number]
    if record.key in NOT_APPLICABLE:
        pytest.skip(NOT_APPLICABLE[record.key])
    if not isinstance(record.request, dict):
        pytest.skip("the cassette kept no request body")
    dialect = DIALECTS[record.provider]
    try:
        call = dialect.call(record)
    except NotApplicable as why:
        pytest.skip(str(why))
    expected = dialect.expect(record)
    async with AsyncClient(
        provider=dialect.provider,
        api_key="replay-key",
        base_url=replay_server.url(number) + dialect.base_path,
        max_retries=0,
    ) as client:
        if expected.error is not None or expected.error_event:
            with pytest.raises(APIError) as caught:
                await _ask(client, call, record.stream)
            if expected.error is not None:
                kind = _STATUS_ERRORS.get(expected.error, APIStatusError)
                assert isinstance(caught.value, kind), caught.value
                assert isinstance(caught.value, APIStatusError)
                assert caught.value.status_code == expected.error
            answer = None
        else:
            answer = await _ask(client, call, record.stream)

    sent = replay_server.received[number]
    assert len(sent) == 1, "one request, no retries"
    assert sent[0].path.split("?")[0].endswith(dialect.endpoint), sent[0].path
    dialect.check(record, sent[0].path, sent[0].body)
    if answer is None:
        return

    assert answer.text == expected.text
    assert answer.reasoning == expected.reasoning
    assert len(answer.tool_calls) == len(expected.tool_calls)
    for (got_id, got_name, got_args), (want_id, want_name, want_args) in zip(
        answer.tool_calls, expected.tool_calls
    ):
        assert got_name == want_name
        assert json.loads(got_args or "{}") == want_args
        assert got_id == want_id if want_id else got_id
    assert answer.finish == (expected.finish or ("tool_calls" if expected.tool_calls else "stop"))
    if expected.usage is not None:
        usage = answer.usage
        assert not usage.estimated
        assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (
            expected.usage
        )


def _applies(record: Interaction) -> bool:
    if record.key in NOT_APPLICABLE or not isinstance(record.request, dict):
        return False
    try:
        DIALECTS[record.provider].call(record)
    except NotApplicable:
        return False
    return True


def test_the_replay_covers_what_it_claims() -> None:
    assert sum(map(_applies, RECORDS)) == REPLAYED
