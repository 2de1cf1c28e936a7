"""Embedding endpoints in each provider's wire format, for a FakeServer: OpenAI's
``POST /v1/embeddings`` (floats or base64, usage, a batch cap answered with OpenAI's 400),
Gemini's ``batchEmbedContents`` and Ollama's ``POST /api/embed``.

Each vector is computed from its input, so a test can tell which input a vector belongs to:
``vector_for(text)`` is what every fake answers for that input.
"""

from __future__ import annotations

import asyncio
import base64
import struct
from typing import Any

from aiohttp import web

from .server import Action

OPENAI = "/v1/embeddings"
OLLAMA = "/api/embed"


def gemini_path(model: str = "gemini-embedding-001") -> str:
    return f"/v1beta/models/{model}:batchEmbedContents"


def vector_for(item: str | list[int], dimensions: int | None = None) -> list[float]:
    """The fakes' embedding of one input: its length, a checksum, then 0.5s (all exact in
    float32, so the base64 form round-trips)."""
    values = [ord(c) for c in item] if isinstance(item, str) else list(item)
    vector = [float(len(values)), float(sum(values) % 997)]
    size = min(dimensions or 4, 4096)  # bounded: fuzzed requests ask for any size
    return (vector + [0.5] * size)[:size]


def _error(status: int, message: str) -> web.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": None}}
    return web.json_response(body, status=status)


def openai_embeddings(
    *, cap: int = 2048, usage: bool = True, delay: float = 0.0, calls: list[int] | None = None
) -> Action:
    """OpenAI's answer. ``calls`` collects the batch size of each request, in arrival order;
    ``delay`` holds each answer (for concurrency checks)."""

    async def act(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        raw = body.get("input")
        if not body.get("model") or raw in (None, "", []):
            return _error(400, "you must provide a model and input")
        items: list[Any]
        if isinstance(raw, str) or (isinstance(raw, list) and raw and isinstance(raw[0], int)):
            items = [raw]
        else:
            items = raw
        if len(items) > cap:
            return _error(400, f"'$.input' is invalid: at most {cap} inputs")
        if calls is not None:
            calls.append(len(items))
        if delay:
            await asyncio.sleep(delay)
        b64 = body.get("encoding_format") == "base64"
        data = []
        for i, item in enumerate(items):
            vector = vector_for(item, body.get("dimensions"))
            value: Any = (
                base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
                if b64
                else vector
            )
            data.append({"object": "embedding", "index": i, "embedding": value})
        data.reverse()  # nothing promises index order: the client must sort
        tokens = sum(len(i) if isinstance(i, list) else len(i.split()) for i in items)
        answer: dict[str, Any] = {"object": "list", "data": data, "model": body["model"] + "-v1"}
        if usage:
            answer["usage"] = {"prompt_tokens": tokens, "total_tokens": tokens}
        return web.json_response(answer)

    return act


def gemini_embeddings(*, cap: int = 100) -> Action:
    """``batchEmbedContents``: each request names its model, holds text parts, maybe
    ``outputDimensionality``; the answer has no token counts."""

    async def act(request: web.Request) -> web.StreamResponse:
        if not request.headers.get("x-goog-api-key"):
            return _error(403, "API key not valid")
        body = await request.json()
        requests = body.get("requests") or []
        if len(requests) > cap:
            return web.json_response(
                {
                    "error": {
                        "code": 400,
                        "message": f"at most {cap} requests can be in one batch",
                        "status": "INVALID_ARGUMENT",
                    }
                },
                status=400,
            )
        model = request.path.rsplit("/", 1)[1].split(":")[0]
        out = []
        for item in requests:
            if item.get("model") != f"models/{model}":
                return _error(400, "every request must name the batch's model")
            text = "".join(p["text"] for p in item["content"]["parts"])
            out.append({"values": vector_for(text, item.get("outputDimensionality"))})
        return web.json_response({"embeddings": out})

    return act


def ollama_embeddings() -> Action:
    async def act(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        raw = body.get("input")
        items = [raw] if isinstance(raw, str) else raw
        if not body.get("model"):
            return web.json_response({"error": "model is required"}, status=400)
        vectors = [vector_for(t, body.get("dimensions")) for t in items]
        return web.json_response(
            {
                "model": body["model"],
                "embeddings": vectors,
                "total_duration": 14143917,
                "load_duration": 1019500,
                "prompt_eval_count": sum(len(t.split()) for t in items),
            }
        )

    return act
