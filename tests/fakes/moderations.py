"""OpenAI's ``POST /v1/moderations``, for a FakeServer: one result per input string (one for
a list of parts); an input that mentions "kill" is flagged for violence."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .server import Action

MODERATIONS = "/v1/moderations"
CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)


#: The categories OpenAI also applies to images (the others read text only).
IMAGE_CATEGORIES = frozenset(
    {
        "self-harm",
        "self-harm/instructions",
        "self-harm/intent",
        "sexual",
        "violence",
        "violence/graphic",
    }
)


def _result(text: str, kinds: list[str]) -> dict[str, Any]:
    violent = "kill" in text
    return {
        "flagged": violent,
        "categories": {c: violent and c == "violence" for c in CATEGORIES},
        "category_scores": {c: (0.97 if violent and c == "violence" else 0.01) for c in CATEGORIES},
        "category_applied_input_types": {
            c: [k for k in kinds if k == "text" or c in IMAGE_CATEGORIES] for c in CATEGORIES
        },
    }


def moderations() -> Action:
    async def act(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        raw = body["input"]
        if isinstance(raw, str):
            results = [_result(raw, ["text"])]
        elif raw and isinstance(raw[0], dict):
            text = " ".join(p.get("text", "") for p in raw)
            kinds = sorted({"text" if p["type"] == "text" else "image" for p in raw})
            results = [_result(text, kinds)]
        else:
            results = [_result(t, ["text"]) for t in raw]
        model = body.get("model", "omni-moderation-latest") + "-2024-09-26"
        return web.json_response({"id": "modr-fake", "model": model, "results": results})

    return act
