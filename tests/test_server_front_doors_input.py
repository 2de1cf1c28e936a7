"""The Responses and Messages front doors never answer a malformed body with a 5xx: every
field of each, set to values of the wrong shape, gets a 4xx that says what is wrong (or, where
the value is harmless, a normal answer)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from polymux.server import create_app

from .fakes import FakeServer
from .fakes import openai as fo
from .fakes import pollinations as smart_openai
from .server_harness import asgi_request, fake_config

WEIRD: list[Any] = [
    None,
    1,
    "x",
    [],
    {},
    [1],
    [{}],
    [None],
    {"a": 1},
    True,
    [[]],
    [{"type": 1}],
    [{"role": "user", "content": [1]}],
    [{"role": "user", "content": [{"type": "input_image"}]}],
    [{"type": "function_call"}],
    [{"type": "function_call_output", "call_id": 1}],
    [{"role": "assistant", "content": [{"type": "tool_use"}]}],
    [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "x", "content": [1]}]}],
    [{"role": "user", "content": [{"type": "image", "source": {"type": "base64", "data": 1}}]}],
    [
        {
            "role": "user",
            "content": [{"type": "document", "source": {"type": "content", "content": 5}}],
        }
    ],
]
HI = [{"role": "user", "content": "hi"}]
MESSAGES = [
    "messages",
    "system",
    "tools",
    "tool_choice",
    "thinking",
    "stop_sequences",
    "max_tokens",
    "metadata",
    "output_config",
    "temperature",
    "stream",
]
DOORS = [
    (
        "/v1/responses",
        {"model": "m", "input": "hi"},
        [
            "input",
            "tools",
            "tool_choice",
            "text",
            "reasoning",
            "instructions",
            "max_output_tokens",
            "temperature",
            "previous_response_id",
            "metadata",
            "parallel_tool_calls",
            "user",
            "truncation",
            "store",
        ],
    ),
    (
        "/v1/messages",
        {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
        MESSAGES,
    ),
    (
        "/v1/messages/count_tokens",
        {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
        MESSAGES,
    ),
]


@pytest.mark.parametrize(("path", "base", "fields"), DOORS, ids=[d[0] for d in DOORS])
async def test_no_5xx_for_misshapen_fields(
    server: FakeServer, tmp_path: Path, path: str, base: dict[str, Any], fields: list[str]
) -> None:
    server.script("POST", fo.CHAT, smart_openai.smart_chat())
    app = create_app(fake_config(server), db_path=tmp_path / "g.db")
    try:
        for field in fields:
            for value in WEIRD:
                status, _, data = await asgi_request(app, "POST", path, {**base, field: value})
                assert status < 500, (field, value, data[:300])
    finally:
        await app.aclose()
