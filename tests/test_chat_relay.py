"""The gateway's same-dialect relay of ``/v1/chat/completions`` (server/chat_relay.py) against
its general path (the client's translation, fold and records): the same requests through
both, every answer read by the official ``openai`` SDK, compared field for field, and the
upstream requests and usage rows compared too.

Traffic: every recorded OpenAI-wire chat interaction in ../shared/recordings that the replay
applies (tests/test_replay_recordings.py), streamed and not, and scripted cases for what
the recordings lack (n > 1, usage asked or not, an error event mid-stream, a host that
ignores ``stream``, upstream errors, fallback, refusals before anything is sent).

What the relay adds to the host's JSON so that both paths agree (chat_relay.py): ``provider``,
an id / model / creation time the host left out, ids on tool calls without one, ``tool_calls``
as the finish of a choice that called tools, a finish for every choice still open at [DONE],
content given as parts as its text (thinking parts as ``reasoning_content``), and
``reasoning_content`` beside a host's ``reasoning``.

Deliberate differences, which ``_reading`` reads past (it reads an answer as the general
path's fold would):
  - extra fields the host sends (``logprobs``, ``annotations``, OpenRouter's ``provider`` and
    ``native_finish_reason``, ``reasoning`` ...) reach the caller through the relay; the
    general path keeps only the fields polymux's records name;
  - chunk boundaries are the host's: a role-only first chunk, a finish apart from the last
    content, usage on a chunk that also holds choices, a name repeated in every delta of a
    tool call, or an id that changes mid-stream reach the caller as they came, where the
    fold merges, drops or rewrites them. What the chunks add up to is the same;
  - a finish_reason other than OpenAI's (``function_call``, a host's own word) is handed on;
    the general path maps it (``tool_calls``, ``stop``).

An answer without ``usage`` gets the fold's estimate (``estimated: true``) on both paths, in
the answer (a stream's usage chunk, if asked for) and in the usage row.
"""

from __future__ import annotations

import contextlib
import json
import re
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai
import pytest

from polymux.client.fold import ResponseFold
from polymux.server import Gateway, GatewayConfig, chat, create_app
from polymux.server.app import Call
from polymux.server.config import ProviderConfig
from polymux.server.store import Store, UsageRecord
from tests.fakes import FakeServer
from tests.fakes.openai import CHAT, chunk, completion, error, reply, stream_text, text_chunks
from tests.fakes.server import json as json_answer
from tests.fakes.server import sse_data
from tests.replay import requests as wire
from tests.replay.requests import NotApplicable
from tests.replay.server import RECORDINGS, Interaction, ReplayServer, load
from tests.server_harness import sdk_on

#: The recorded hosts that speak OpenAI's chat wire (all relayed), and their base paths.
_WIRE = {
    "openai": "/v1",
    "groq": "/v1",
    "openrouter": "/v1",
    "mistral": "/v1",
    "cerebras": "/v1",
    "deepseek": "/v1",
    "huggingface": "/v1",
    "gemini-openai": "/v1",
    "ollama-openai": "/v1",
    "openai-compatible": "/v1",
    "azure": "",
}
RECORDS = [r for r in load() if r.provider in _WIRE] if RECORDINGS.is_dir() else []


def _call(record: Interaction) -> dict[str, Any] | None:
    if not isinstance(record.request, dict):
        return None
    try:
        return wire.openai_call(record.request)
    except NotApplicable:
        return None


CASES = [(r, c) for r in RECORDS if (c := _call(r)) is not None]


def gateway(base_url: str, kind: str, tmp_path: Path, *, relay: bool, **overrides: Any) -> Gateway:
    config = GatewayConfig(
        port=1,
        providers=(
            ProviderConfig(name="up", type=kind, base_url=base_url, api_key_env="RELAY_TEST_KEY"),
        ),
        max_retries=0,
        relay_chat=relay,
        **overrides,
    )
    name = "relay" if relay else "general"
    return create_app(config, db_path=tmp_path / f"{name}.db", key_refresh=0)


@dataclass
class Seen:
    """What the SDK gave a caller: the answer's dump (or each chunk's), or the error."""

    answer: dict[str, Any] | None = None
    chunks: list[dict[str, Any]] = field(default_factory=list)
    error: tuple[str, int | None, str] | None = None


async def ask(app: Gateway, call: dict[str, Any], stream: bool) -> Seen:
    seen = Seen()
    async with sdk_on(app) as client:
        try:
            if stream:
                chunks: AsyncIterator[Any] = await client.chat.completions.create(
                    **call, stream=True
                )
                async for chunk in chunks:
                    seen.chunks.append(chunk.model_dump())
            else:
                seen.answer = (await client.chat.completions.create(**call)).model_dump()
        except openai.APIError as exc:
            status = getattr(exc, "status_code", None)
            seen.error = (type(exc).__name__, status, exc.message)
    return seen


def _unreachable(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("the general path ran where the relay should have answered")


def failure(seen: Seen) -> tuple[str, int | None, str]:
    """The error the caller saw: (its SDK class, status, message)."""
    assert seen.error is not None, seen
    return seen.error


async def rows(app: Gateway, tmp_path: Path, name: str) -> list[dict[str, Any]]:
    """The usage log, once the gateway is closed (which writes what is queued)."""
    await app.aclose()
    with Store(tmp_path / f"{name}.db") as store:
        return store.usage_rows()


# -- reading an answer -------------------------------------------------------------------------
def _text(value: Any) -> str:
    if isinstance(value, list):  # content as parts
        return "".join(str(p.get("text") or "") for p in value if p.get("type") in ("text", None))
    return value or ""


def _reasoning(message: dict[str, Any]) -> str:
    value = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(value, str) and value:
        return value
    content = message.get("content")
    if isinstance(content, list):  # Mistral's thinking parts
        out: list[str] = []
        for part in content:
            if part.get("type") == "thinking":
                inner = part.get("thinking")
                out += [inner] if isinstance(inner, str) else [p.get("text") or "" for p in inner]
        return "".join(out)
    return ""


_FINISH = {"stop", "length", "tool_calls", "content_filter"}


def _finish(value: Any) -> str | None:
    if value is None:
        return None
    return "tool_calls" if value == "function_call" else value if value in _FINISH else "stop"


def _arguments(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value or {})


def _usage(usage: Any) -> tuple[Any, ...] | None:
    if not usage:
        return None
    details = usage.get("prompt_tokens_details") or {}
    return (
        usage["prompt_tokens"],
        usage["completion_tokens"],
        usage["total_tokens"],
        details.get("cached_tokens") or None,
        usage.get("estimated"),
    )


def _reading(seen: Seen) -> dict[str, Any]:
    """What the answer says, read the general path's way (module docstring)."""
    if seen.error is not None:
        return {"error": seen.error}
    if seen.answer is not None:
        a = seen.answer
        choices = {}
        for c in a["choices"]:
            m = c["message"]
            calls = [
                (
                    t["id"],
                    t["function"]["name"],
                    json.loads(_arguments(t["function"]["arguments"]) or "{}"),
                )
                for t in m.get("tool_calls") or ()
            ]
            choices[c["index"] or 0] = (
                _text(m["content"]) or None,
                _reasoning(m) or None,
                m.get("refusal") or None,
                calls,
                _finish(c["finish_reason"]),
            )
        return {
            "head": (a["id"], a["model"], a["object"], a["created"], a.get("provider")),
            "choices": choices,
            "usage": _usage(a.get("usage")),
        }
    heads = []
    texts: dict[int, list[str]] = {}
    reasonings: dict[int, list[str]] = {}
    refusals: dict[int, list[str]] = {}
    tools: dict[tuple[int, int], list[Any]] = {}
    finishes: dict[int, str | None] = {}
    usages = []
    for ch in seen.chunks:
        heads.append((ch["id"], ch["model"], ch["object"], ch.get("provider")))
        if ch.get("usage"):
            usages.append(_usage(ch["usage"]))
        for c in ch["choices"]:
            i = c["index"] or 0
            d = c["delta"]
            texts.setdefault(i, []).append(_text(d.get("content")))
            reasonings.setdefault(i, []).append(_reasoning(d))
            refusals.setdefault(i, []).append(d.get("refusal") or "")
            for n, t in enumerate(d.get("tool_calls") or ()):
                index = t.get("index", n) if t.get("index") is not None else n
                entry = tools.setdefault((i, index), [None, "", ""])
                entry[0] = entry[0] or t.get("id")
                fn = t.get("function") or {}
                entry[1] = entry[1] or fn.get("name") or ""  # a name is given once
                entry[2] += _arguments(fn.get("arguments")) if fn.get("arguments") else ""
            if c.get("finish_reason"):
                finishes[i] = _finish(c["finish_reason"])
    return {
        # The first chunk's head; every chunk names the provider.
        "head": heads[0] if heads else None,
        "providers": {h[3] for h in heads},
        "text": {i: "".join(v) for i, v in texts.items() if "".join(v)},
        "reasoning": {i: "".join(v) for i, v in reasonings.items() if "".join(v)},
        "refusal": {i: "".join(v) for i, v in refusals.items() if "".join(v)},
        "tools": {k: (v[0], v[1], json.loads(v[2] or "{}")) for k, v in tools.items()},
        "finish": finishes,
        "usage": [u for u in usages if u is not None],
    }


def _made_up(reading: dict[str, Any], record: Interaction) -> str:
    """The reading with the ids and times the host did not send (either path makes them
    up, differently each time) marked as made up."""
    text = repr(reading)
    for pattern in (r"chatcmpl-[0-9a-f]{24}", r"call_[0-9a-f]{24}", r"\b1[7-9]\d{8}\b"):
        for value in set(re.findall(pattern, text)):
            if value not in record.body:
                text = text.replace(value, "<made up>")
    return text


def _in_openai_shape(seen: Seen) -> None:
    """What the relay hands on is in the shape the general path gives: text content, and
    ``reasoning_content`` wherever a host wrote ``reasoning``."""
    parts = [c["message"] for c in seen.answer["choices"]] if seen.answer else []
    parts += [c["delta"] for chunk in seen.chunks for c in chunk["choices"]]
    for part in parts:
        assert part.get("content") is None or isinstance(part["content"], str), part
        if isinstance(part.get("reasoning"), str) and part["reasoning"]:
            assert part.get("reasoning_content"), part


# -- the recorded traffic ----------------------------------------------------------------------
recorded = pytest.mark.skipif(not RECORDINGS.is_dir(), reason=f"no recordings at {RECORDINGS}")


@pytest.fixture(scope="module")
def replay_server() -> Any:
    with ReplayServer() as server:
        for record, _ in CASES:  # each served twice: once per path
            for _ in range(2):
                server.add(record.status, record.content_type, record.body.encode())
        yield server


@recorded
def test_the_comparison_covers_the_recorded_openai_wire_traffic() -> None:
    assert len(CASES) >= 200, len(CASES)
    assert sum(r.stream for r, _ in CASES) >= 30


@recorded
@pytest.mark.parametrize("number", range(len(CASES)), ids=[r.key for r, _ in CASES])
async def test_recorded_answers_read_the_same_through_both_paths(
    number: int, replay_server: ReplayServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAY_TEST_KEY", "replay-key")
    record, call = CASES[number]
    if record.stream:
        call = {**call, "stream_options": {"include_usage": True}}
    seen: dict[bool, Seen] = {}
    logged: dict[bool, list[dict[str, Any]]] = {}
    for relay, slot in ((True, 2 * number), (False, 2 * number + 1)):
        base = replay_server.url(slot) + _WIRE[record.provider]
        allowed = tuple(call.get("extra_body") or ())  # the host's own fields, let through
        app = gateway(base, record.provider, tmp_path, relay=relay, pass_through=allowed)
        with monkeypatch.context() as patch:
            if relay:  # the relay really answers: the general path's fold is never reached
                patch.setattr(ResponseFold, "__init__", _unreachable)
            seen[relay] = await ask(app, call, record.stream)
        logged[relay] = await rows(app, tmp_path, "relay" if relay else "general")
    relayed = replay_server.received.get(2 * number, [])
    general = replay_server.received.get(2 * number + 1, [])
    assert [(r.path, r.body) for r in relayed] == [(r.path, r.body) for r in general]
    assert _made_up(_reading(seen[True]), record) == _made_up(_reading(seen[False]), record)
    _in_openai_shape(seen[True])
    (row_relay,), (row_general,) = logged[True], logged[False]
    for column in ("status", "provider", "model", "stream", "cached_tokens"):
        assert row_relay[column] == row_general[column], column
    if _reading(seen[True]).get("usage"):
        for column in ("prompt_tokens", "completion_tokens", "total_tokens"):
            assert row_relay[column] == row_general[column], column


# -- scripted cases: what the recordings lack ---------------------------------------------------
HELLO = [{"role": "user", "content": "hi"}]
USAGE = {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}


@dataclass
class Both:
    """One request through each path: what the caller saw, the upstream got, the log says."""

    seen: dict[bool, Seen]
    sent: dict[bool, list[Any]]
    rows: dict[bool, list[dict[str, Any]]]

    def reading(self, relay: bool) -> str:
        return _made_up(_reading(self.seen[relay]), _NO_RECORD)


_NO_RECORD = Interaction("", "", "", False, "", "", None, 200, "", "")


async def both(
    tmp_path: Path,
    scripts: list[list[Any]],
    call: dict[str, Any],
    *,
    stream: bool = False,
    kinds: tuple[str, ...] = ("openai-compatible",),
    relayed: bool = True,
    limits: dict[str, Any] | None = None,
    **overrides: Any,
) -> Both:
    """``call`` through the relay and the general path, each against fresh upstreams playing
    ``scripts`` (one list of actions per provider, tried in order). ``relayed``: whether the
    relay answers this call (else it leaves it to the general path)."""
    out = Both({}, {}, {})
    tmp_path = Path(tempfile.mkdtemp(dir=tmp_path))  # a log of its own for each call
    for relay in (True, False):
        async with contextlib.AsyncExitStack() as stack:
            ups = [await stack.enter_async_context(FakeServer()) for _ in scripts]
            for up, actions in zip(ups, scripts):
                up.script("POST", CHAT, *actions)
            providers = tuple(
                ProviderConfig(
                    name=f"up{i}",
                    type=kind,
                    base_url=up.url("/v1"),
                    api_key_env="RELAY_TEST_KEY",
                    **(limits or {}),
                )
                for i, (up, kind) in enumerate(zip(ups, kinds * len(ups)))
            )
            config = GatewayConfig(
                port=1,
                providers=providers,
                default=overrides.pop("default", tuple(p.name for p in providers)),
                max_retries=0,
                relay_chat=relay,
                **overrides,
            )
            name = "relay" if relay else "general"
            app = create_app(config, db_path=tmp_path / f"{name}.db", key_refresh=0)
            with pytest.MonkeyPatch.context() as patch:
                if relay and relayed:
                    patch.setattr(ResponseFold, "__init__", _unreachable)
                out.seen[relay] = await ask(app, call, stream)
            out.rows[relay] = await rows(app, tmp_path, name)
            out.sent[relay] = [r.json for up in ups for r in up.requests]
    assert out.sent[True] == out.sent[False]  # one request-building path
    return out


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_TEST_KEY", "test-key")


def _same(result: Both, *columns: str) -> None:
    assert result.reading(True) == result.reading(False)
    _in_openai_shape(result.seen[True])
    (a,), (b,) = result.rows[True], result.rows[False]
    names = ["status", "provider", "model", "stream", "cached_tokens", "error", *columns]
    names += ["prompt_tokens", "completion_tokens", "total_tokens"]  # reported or estimated
    for column in names:
        assert a[column] == b[column], column


def _choice_chunks(index: int, pieces: list[str]) -> list[dict[str, Any]]:
    return [chunk({"content": p}, index=index) for p in pieces] + [chunk({}, "stop", index=index)]


async def test_several_choices_streamed_and_whole(tmp_path: Path) -> None:
    interleaved = [chunk({"role": "assistant", "content": ""})]
    for a, b in zip(_choice_chunks(0, ["A", "B"]), _choice_chunks(1, ["x", "y"])):
        interleaved += [a, b]
    interleaved.append(chunk(usage=USAGE, choices=False))
    call = {"model": "m", "messages": HELLO, "n": 2}
    streamed = await both(
        tmp_path,
        [[sse_data(interleaved)]],
        {**call, "stream_options": {"include_usage": True}},
        stream=True,
    )
    _same(streamed)
    assert "\"text\": {0: 'AB', 1: 'xy'}" in streamed.reading(True).replace("'text'", '"text"')
    whole = completion("one")
    whole["choices"].append(
        {**whole["choices"][0], "index": 1, "message": {"role": "assistant", "content": "two"}}
    )
    _same(await both(tmp_path, [[json_answer(200, whole)]], call))


@pytest.mark.parametrize("asked", [True, False])
async def test_usage_reaches_the_caller_only_if_asked_and_the_log_always(
    tmp_path: Path, asked: bool
) -> None:
    call: dict[str, Any] = {"model": "m", "messages": HELLO}
    if asked:
        call["stream_options"] = {"include_usage": True}
    result = await both(tmp_path, [[stream_text(["Hel", "lo"], usage=USAGE)]], call, stream=True)
    _same(result)
    usages = [c for c in result.seen[True].chunks if c.get("usage")]
    assert len(usages) == (1 if asked else 0)
    assert result.sent[True][0]["stream_options"] == {"include_usage": True}
    assert result.rows[True][0]["total_tokens"] == 11


@pytest.mark.parametrize("stream", [True, False])
async def test_a_host_that_reports_no_usage_is_still_counted(tmp_path: Path, stream: bool) -> None:
    """Token limits, budgets and costs need tokens: without the host's usage both paths log
    the fold's estimate (about four characters a token), and a caller that asked for usage
    gets it marked ``estimated``."""
    call: dict[str, Any] = {"model": "m", "messages": HELLO}
    if stream:
        call["stream_options"] = {"include_usage": True}
        answer = sse_data(text_chunks(["Hello, ", "world!"]))  # no usage chunk
    else:
        whole = completion("Hello, world!")
        del whole["usage"]
        answer = json_answer(200, whole)
    result = await both(tmp_path, [[answer]], call, stream=stream)
    _same(result)
    row = result.rows[True][0]
    # "hi" is 1 token + 4 for the message; "Hello, world!" is 13 characters, 4 tokens.
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (5, 4, 9)
    assert _reading(result.seen[True])["usage"] in ((5, 4, 9, None, True), [(5, 4, 9, None, True)])


async def test_an_error_event_mid_stream_ends_the_stream_the_same_way(tmp_path: Path) -> None:
    overloaded = {"error": {"message": "overloaded", "type": "server_error", "code": 503}}
    failing = [*text_chunks(["one"])[:2], overloaded]
    result = await both(
        tmp_path, [[sse_data(failing, done=False)]], {"model": "m", "messages": HELLO}, stream=True
    )
    _same(result)
    assert "overloaded" in failure(result.seen[True])[2]
    assert result.rows[True][0]["status"] == 502  # an upstream's 5xx is the gateway's 502


async def test_a_connection_dropped_mid_stream_ends_with_an_error_event(tmp_path: Path) -> None:
    action = sse_data(text_chunks(["one", "two"]), reset_after=2)
    result = await both(tmp_path, [[action]], {"model": "m", "messages": HELLO}, stream=True)
    _same(result)
    assert result.seen[True].error is not None
    assert result.rows[True][0]["status"] == 502


async def test_a_host_that_ignores_stream(tmp_path: Path) -> None:
    result = await both(
        tmp_path, [[reply("whole")]], {"model": "m", "messages": HELLO}, stream=True
    )
    _same(result)


async def test_a_stream_that_ends_without_finish_or_done(tmp_path: Path) -> None:
    cut = text_chunks(["one"])[:2]
    result = await both(
        tmp_path, [[sse_data(cut, done=False)]], {"model": "m", "messages": HELLO}, stream=True
    )
    _same(result)
    assert "cut short" in failure(result.seen[True])[2]


async def test_a_stream_that_ends_with_done_but_no_finish_is_finished(tmp_path: Path) -> None:
    calls = [
        chunk(
            {
                "role": "assistant",
                "tool_calls": [
                    {"index": 0, "type": "function", "function": {"name": "f", "arguments": ""}}
                ],
            }
        ),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}),
    ]
    result = await both(
        tmp_path, [[sse_data(calls)]], {"model": "m", "messages": HELLO}, stream=True
    )
    _same(result)
    assert "'finish': {0: 'tool_calls'}" in result.reading(True)
    assert "('<made up>', 'f', {})" in result.reading(True)  # the call without an id got one


@pytest.mark.parametrize("status", [400, 401, 404, 429, 500, 503])
@pytest.mark.parametrize("stream", [False, True])
async def test_upstream_errors_are_answered_as_before(
    tmp_path: Path, status: int, stream: bool
) -> None:
    result = await both(
        tmp_path,
        [[error(status, "nope", type="invalid_request_error")]],
        {"model": "m", "messages": HELLO},
        stream=stream,
    )
    _same(result)
    assert failure(result.seen[True])[1] is not None


@pytest.mark.parametrize("stream", [False, True])
async def test_fallback_after_a_failure_or_an_empty_answer(tmp_path: Path, stream: bool) -> None:
    empty = sse_data(text_chunks([])) if stream else reply("")
    good = stream_text(["fine"]) if stream else reply("fine")
    for first in (error(500), empty):
        result = await both(
            tmp_path, [[first], [good]], {"model": "m", "messages": HELLO}, stream=stream
        )
        _same(result)
        assert result.rows[True][0]["provider"] == "up1"
        assert len(result.sent[True]) == 2


async def test_tools_vision_and_json_schema_reach_the_host_alike(tmp_path: Path) -> None:
    tool = {
        "type": "function",
        "function": {"name": "weather", "parameters": {"type": "object", "properties": {}}},
    }
    messages = [
        {"role": "developer", "content": "be brief"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
            ],
        },
    ]
    schema = {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}}
    call = {
        "model": "m",
        "messages": messages,
        "tools": [tool],
        "tool_choice": "auto",
        "response_format": schema,
        "max_tokens": 50,
        "seed": 3,
    }
    calls = [
        {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}
    ]
    for kind in ("openai-compatible", "openai", "mistral", "groq"):
        _same(
            await both(
                tmp_path,
                [[json_answer(200, completion(None, tool_calls=calls, finish="tool_calls"))]],
                call,
                kinds=(kind,),
            )
        )
        streamed = [
            chunk(
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"index": 0, **calls[0], "function": {"name": "weather", "arguments": ""}}
                    ],
                }
            ),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}),
            chunk({}, "tool_calls"),
        ]
        _same(await both(tmp_path, [[sse_data(streamed)]], call, stream=True, kinds=(kind,)))


async def test_a_finish_of_stop_after_tool_calls_reads_tool_calls(tmp_path: Path) -> None:
    calls = [{"id": "", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    result = await both(
        tmp_path,
        [[json_answer(200, completion(None, tool_calls=calls, finish="stop"))]],
        {"model": "m", "messages": HELLO},
    )
    _same(result)
    answer = result.seen[True].answer
    assert answer is not None
    choice = answer["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["tool_calls"][0]["id"]


async def test_every_tool_call_of_a_whole_answer_without_an_id_gets_one(tmp_path: Path) -> None:
    """Calls of a whole message carry no ``index``: each is a call of its own, and each the
    host sent without an id gets one (the fold gives one to every call position)."""
    calls = [{"type": "function", "function": {"name": name, "arguments": "{}"}} for name in "fg"]
    result = await both(
        tmp_path,
        [[json_answer(200, completion(None, tool_calls=calls, finish="tool_calls"))]],
        {"model": "m", "messages": HELLO},
    )
    _same(result)
    answer = result.seen[True].answer
    assert answer is not None
    ids = [call["id"] for call in answer["choices"][0]["message"]["tool_calls"]]
    assert len(set(ids)) == 2 and all(i.startswith("call_") for i in ids), ids


async def test_a_capability_the_host_lacks_is_the_same_400_before_anything_is_sent(
    tmp_path: Path,
) -> None:
    image = [
        {
            "role": "user",
            "content": [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}],
        }
    ]
    for stream in (False, True):
        result = await both(
            tmp_path,
            [[reply("x")]],
            {"model": "deepseek-chat", "messages": image},
            stream=stream,
            kinds=("deepseek",),
        )
        _same(result)
        assert result.sent[True] == []
        assert failure(result.seen[True])[1] == 400


async def test_log_content_and_stop_sequences(tmp_path: Path) -> None:
    for stream in (False, True):
        action = stream_text(["Hel", "lo"]) if stream else reply("Hello")
        result = await both(
            tmp_path, [[action]], {"model": "m", "messages": HELLO}, stream=stream, log_content=True
        )
        _same(result, "request", "response")
        assert result.rows[True][0]["response"] == "Hello"
        # stop sequences are the client's to enforce: the general path answers them
        result = await both(
            tmp_path,
            [[action]],
            {"model": "m", "messages": HELLO, "stop": ["l"]},
            stream=stream,
            relayed=False,
        )
        _same(result)


async def test_the_response_cache_holds_a_relayed_answer(tmp_path: Path) -> None:
    overrides: dict[str, Any] = {"cache_ttl": 60.0, "cache_models": ("*",)}
    async with FakeServer() as up:
        up.script("POST", CHAT, reply("cached answer"))
        config = GatewayConfig(
            port=1,
            providers=(
                ProviderConfig(name="up", type="openai-compatible", base_url=up.url("/v1")),
            ),
            max_retries=0,
            **overrides,
        )
        app = create_app(config, db_path=tmp_path / "c.db", key_refresh=0)
        first = await ask(app, {"model": "m", "messages": HELLO}, False)
        second = await ask(app, {"model": "m", "messages": HELLO}, False)
        logged = await rows(app, tmp_path, "c")
    assert first.answer == second.answer and len(up.requests) == 1
    assert first.answer is not None and first.answer["provider"] == "up"
    assert [r["cached"] for r in logged] == [0, 1]


@pytest.mark.parametrize("stream", [False, True])
async def test_an_alias_and_a_provider_with_its_own_limits_are_relayed(
    tmp_path: Path, stream: bool
) -> None:
    good = stream_text(["fine"]) if stream else reply("fine")
    result = await both(
        tmp_path,
        [[error(503)], [good]],
        {"model": "smart", "messages": HELLO},
        stream=stream,
        aliases={"smart": ("up0/pinned-a", "up1/pinned-b")},
        limits={"first_byte_timeout": 30.0, "idle_timeout": 30.0},
    )
    _same(result)
    assert [body["model"] for body in result.sent[True]] == ["pinned-a", "pinned-b"]
    assert result.rows[True][0]["provider"] == "up1"


async def test_only_a_route_wholly_on_the_openai_wire_is_relayed(tmp_path: Path) -> None:
    """``relays`` leaves the providers to its caller: the gateway checks the route's providers
    on the wire before preparing the call, so one provider of another dialect sends the whole
    route down the general path."""
    providers = (
        ProviderConfig(name="wire", type="openai-compatible", base_url="http://127.0.0.1:9/v1"),
        ProviderConfig(name="other", type="anthropic", base_url="http://127.0.0.1:9"),
    )
    config = GatewayConfig(port=1, providers=providers, default=("wire", "other"))
    app = create_app(config, db_path=tmp_path / "r.db", key_refresh=0)

    async def unused(*args: Any) -> Any:
        raise AssertionError("nothing is received or sent while deciding")

    call = Call({}, unused, unused, UsageRecord("/v1/chat/completions", 200))
    try:
        for model, relayed in (("m", False), ("wire/m", True), ("other/m", False)):
            body = {"model": model, "messages": HELLO}
            name, params = chat._parts(app, body, False)
            work = chat._relayed(app, call, name, params, body, False, None)
            assert (work is not None) == relayed, model
            if work is not None:
                work.close()  # never started: nothing is sent
    finally:
        await app.aclose()
