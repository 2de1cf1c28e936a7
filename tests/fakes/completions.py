"""OpenAI's legacy ``POST /v1/completions`` (``text_completion`` objects, whole or as SSE
chunks), for a FakeServer. The answer text is ``"<prompt> -> done"`` cut into words, so a
test can tell which prompt an answer belongs to."""

from __future__ import annotations

import json as jsonlib
from typing import Any

from aiohttp import web

from .server import Action

COMPLETIONS = "/v1/completions"


def answer_for(prompt: str | list[int]) -> str:
    """The answer to a prompt (token ids are shown as the list they are)."""
    return f" {prompt} -> done"


def _prompts(prompt: Any) -> list[Any]:
    """The prompts of a body: a string, token ids, or a list of either."""
    if isinstance(prompt, list) and prompt and isinstance(prompt[0], int):
        return [prompt]
    return prompt if isinstance(prompt, list) else [prompt]


def _echoed(body: dict[str, Any], prompt: Any) -> str:
    """The host's own echo of the prompt (token ids: shown as ``<ids>``, a stand-in for
    their text)."""
    if not body.get("echo"):
        return ""
    return prompt if isinstance(prompt, str) else f"<{prompt}>"


def _chunk(text: str, index: int, finish: str | None, model: str) -> dict[str, Any]:
    return {
        "id": "cmpl-fake",
        "object": "text_completion",
        "created": 1767225600,
        "model": model,
        "choices": [{"text": text, "index": index, "logprobs": None, "finish_reason": finish}],
    }


def completions() -> Action:
    async def act(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        prompt = body["prompt"]
        model = body["model"]
        prompts = _prompts(prompt)
        usage = {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9}
        if not body.get("stream"):
            choices = [
                {
                    "text": _echoed(body, p) + answer_for(p),
                    "index": i,
                    "logprobs": None,
                    "finish_reason": "length",
                }
                for i, p in enumerate(prompts)
            ]
            return web.json_response(
                {
                    "id": "cmpl-fake",
                    "object": "text_completion",
                    "created": 1767225600,
                    "model": model,
                    "choices": choices,
                    "usage": usage,
                }
            )
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        words = answer_for(prompts[0]).split(" ")[1:]
        events = [_chunk(" " + w, 0, None, model) for w in words]
        events.append(_chunk("", 0, "stop", model))
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append({**_chunk("", 0, None, model), "choices": [], "usage": usage})
        for event in events:
            await response.write(f"data: {jsonlib.dumps(event)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        return response

    return act
