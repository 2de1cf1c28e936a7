"""The Anthropic dialect's reverse direction (a Messages body -> a Chat Completions body), for
the shapes the SDK tests in test_server_messages.py do not send."""

from __future__ import annotations

from typing import Any

import pytest

from polymux.dialects.anthropic import (
    FINISH_TO_STOP,
    STOP_TO_FINISH,
    THINKING_BUDGET,
    chat_body,
    effort_for_budget,
    error_type,
)
from polymux.errors import InvalidRequestError, UnsupportedCapabilityError

PDF = "application/pdf"


def body(*messages: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"model": "m", "max_tokens": 10, "messages": list(messages), **fields}


def test_tool_results_come_first_with_errors_and_images_kept() -> None:
    image = {"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}}
    chat = chat_body(
        body(
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "and now?"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "is_error": True,
                        "content": [{"type": "text", "text": "no such city"}, image],
                    },
                ],
            }
        )
    )
    assert chat["messages"] == [
        {"role": "tool", "tool_call_id": "t1", "content": "Error: no such city"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "and now?"},
                {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}},
            ],
        },
    ]


def test_assistant_turn_drops_thinking_and_keeps_tool_calls() -> None:
    chat = chat_body(
        body(
            {"role": "user", "content": "q"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                    {"type": "text", "text": "Let me check."},
                    {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}},
                ],
            },
        )
    )
    assert chat["messages"][1] == {
        "role": "assistant",
        "content": "Let me check.",
        "tool_calls": [
            {"id": "t1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}
        ],
    }


def test_documents_and_system_blocks() -> None:
    chat = chat_body(
        body(
            {
                "role": "user",
                "content": [
                    {"type": "document", "source": {"type": "text", "data": "plain notes"}},
                    {
                        "type": "document",
                        "title": "r.pdf",
                        "source": {
                            "type": "base64",
                            "media_type": "application/pdf",
                            "data": "AA==",
                        },
                    },
                ],
            },
            system=[{"type": "text", "text": "A"}, {"type": "text", "text": "B"}],
            output_config={"format": {"type": "json_schema", "schema": {"type": "object"}}},
        )
    )
    assert chat["messages"][0] == {"role": "system", "content": "A\n\nB"}
    assert chat["messages"][1]["content"] == [
        {"type": "text", "text": "plain notes"},
        {
            "type": "file",
            "file": {"file_data": "data:application/pdf;base64,AA==", "filename": "r.pdf"},
        },
    ]
    assert chat["response_format"]["json_schema"]["schema"] == {"type": "object"}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"messages": []}, "messages must be a non-empty array"),
        ({"model": 3}, "model is required"),
        ({"max_tokens": 0}, "max_tokens must be a positive integer"),
        ({"thinking": {"type": "enabled", "budget_tokens": 5}}, "at least 1024"),
        ({"tool_choice": {"type": "sometimes"}}, "tool_choice.type must be"),
        ({"messages": [{"role": "robot", "content": "x"}]}, 'role must be "user"'),
    ],
)
def test_bad_bodies_say_what_is_wrong(bad: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        chat_body({**body({"role": "user", "content": "x"}), **bad})


def test_what_only_anthropic_serves_is_refused() -> None:
    file_image = {"type": "image", "source": {"type": "file", "file_id": "f1"}}
    with pytest.raises(UnsupportedCapabilityError, match="served only for Anthropic models"):
        chat_body(body({"role": "user", "content": [file_image]}))
    with pytest.raises(UnsupportedCapabilityError, match="bash_20250124"):
        chat_body(body({"role": "user", "content": "x"}, tools=[{"type": "bash_20250124"}]))


def test_vocabularies_round_trip() -> None:
    for finish, stop in FINISH_TO_STOP.items():
        if finish != "function_call":
            assert STOP_TO_FINISH[stop] == finish
    for effort, budget in THINKING_BUDGET.items():
        if budget:
            assert effort_for_budget(budget) == effort
    assert effort_for_budget(10**6) == "xhigh"
    assert [error_type(s) for s in (400, 401, 413, 429, 500, 502, 503, 504, 529)] == [
        "invalid_request_error",
        "authentication_error",
        "request_too_large",
        "rate_limit_error",
        "api_error",
        "api_error",
        "overloaded_error",
        "timeout_error",
        "overloaded_error",
    ]
