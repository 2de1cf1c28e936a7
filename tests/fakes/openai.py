"""Bodies in OpenAI's wire format, for scripting a FakeServer as an OpenAI-compatible host."""

from __future__ import annotations

import contextlib
import json as jsonlib
from typing import Any

from .server import Action, json, sse_data, stream_bytes

CHAT = "/v1/chat/completions"
MODELS = "/v1/models"
IMAGES = "/v1/images/generations"


def chunk(
    delta: dict[str, Any] | None = None,
    finish: str | None = None,
    *,
    index: int = 0,
    usage: dict[str, Any] | None = None,
    model: str = "fake-model",
    id: str = "chatcmpl-fake",
    choices: bool = True,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": id,
        "object": "chat.completion.chunk",
        "created": 1767225600,
        "model": model,
        "system_fingerprint": "fp_fake",
        "choices": [
            {"index": index, "delta": delta or {}, "logprobs": None, "finish_reason": finish}
        ]
        if choices
        else [],
    }
    if usage is not None:
        body["usage"] = usage
    return body


def text_chunks(
    pieces: list[str],
    *,
    finish: str = "stop",
    usage: dict[str, Any] | None = None,
    model: str = "fake-model",
) -> list[dict[str, Any]]:
    """The chunks OpenAI sends for a text answer: role first, pieces, finish, then usage."""
    out = [chunk({"role": "assistant", "content": ""}, model=model)]
    out += [chunk({"content": p}, model=model) for p in pieces]
    out.append(chunk({}, finish, model=model))
    if usage is not None:
        out.append(chunk(usage=usage, model=model, choices=False))
    return out


def stream_text(pieces: list[str], **kwargs: Any) -> Action:
    usage = kwargs.pop(
        "usage",
        {"prompt_tokens": 9, "completion_tokens": len(pieces), "total_tokens": 9 + len(pieces)},
    )
    return sse_data(text_chunks(pieces, usage=usage), **kwargs)


def split_body(payloads: list[Any], size: int, *, done: bool = True, crlf: bool = False) -> Action:
    """The whole SSE body cut into ``size``-byte writes: events straddle network chunks."""
    sep = "\r\n" if crlf else "\n"
    body = "".join(f"data: {jsonlib.dumps(p)}{sep}{sep}" for p in payloads)
    if done:
        body += f"data: [DONE]{sep}{sep}"
    raw = body.encode()
    return stream_bytes([raw[i : i + size] for i in range(0, len(raw), size)])


def completion(
    content: str | None = "Hello!",
    *,
    finish: str = "stop",
    tool_calls: list[dict[str, Any]] | None = None,
    usage: dict[str, Any] | None = None,
    model: str = "fake-model",
    reasoning: str | None = None,
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    if reasoning:
        message["reasoning_content"] = reasoning
    return {
        "id": "chatcmpl-full",
        "object": "chat.completion",
        "created": 1767225600,
        "model": model,
        "system_fingerprint": "fp_fake",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": usage or {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
    }


def reply(content: str = "Hello!", **kwargs: Any) -> Action:
    return json(200, completion(content, **kwargs))


def error(
    status: int,
    message: str = "boom",
    *,
    type: str = "server_error",
    code: Any = None,
    headers: dict[str, str] | None = None,
) -> Action:
    return json(
        status,
        {"error": {"message": message, "type": type, "param": None, "code": code}},
        headers=headers,
    )


def models(*ids: str) -> Action:
    return json(
        200,
        {
            "object": "list",
            "data": [{"id": i, "object": "model", "created": 0, "owned_by": "fake"} for i in ids],
        },
    )


# -- faults ------------------------------------------------------------------------------------
def closed_port() -> int:
    """A loopback port nothing listens on: connecting is refused at once."""
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


class StalledListener:
    """A loopback port whose accept queue is full, so a new TCP connect hangs (the kernel
    drops its SYN): the one reliable way to provoke a connect timeout on loopback."""

    def __init__(self) -> None:
        import socket

        self._server = socket.socket()
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(0)
        self.port: int = self._server.getsockname()[1]
        self._fillers: list[socket.socket] = []
        for _ in range(4):  # more than the queue holds; never accepted
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", self.port))
            self._fillers.append(filler)

    def close(self) -> None:
        for sock in [*self._fillers, self._server]:
            sock.close()


def raw_error(status: int, pieces: list[bytes], *, delay: float = 0.05, **kwargs: Any) -> Action:
    """An error answer whose body arrives in several writes (as large bodies do)."""
    return stream_bytes(
        pieces, status=status, content_type="application/json", delay=delay, **kwargs
    )


def responses_object(id: str = "resp_native1") -> dict[str, Any]:
    """A Response as OpenAI's own /v1/responses returns it: a web search call, then text."""
    return {
        "id": id,
        "object": "response",
        "created_at": 1767225600,
        "model": "gpt-5",
        "status": "completed",
        "output": [
            {
                "type": "web_search_call",
                "id": "ws_1",
                "status": "completed",
                "action": {"type": "search", "query": "weather Paris"},
            },
            {
                "type": "message",
                "id": "msg_1",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": "Sunny.", "annotations": []}],
            },
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [{"type": "web_search"}],
        "usage": {
            "input_tokens": 11,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 3,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 14,
        },
    }
