"""A provider list resolved once (``ResolvedProviders``, what the gateway's routes hold) is
served exactly like the same providers passed as a plain list: the same answers, and the
same refusals when a provider cannot serve what a call asks for."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from polymux import AsyncClient, UnsupportedCapabilityError
from polymux.providers.base import Capabilities, GeneratedImage, Provider
from polymux.providers.registry import ResolvedProviders, resolve_providers
from polymux.testing import ScriptedProvider
from polymux.types.request import ImageRequest

TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]


class ImagesOnly(Provider):
    name = "images-only"

    async def generate_images(self, request: ImageRequest) -> Sequence[GeneratedImage | str]:
        return ["https://example.invalid/a.png"]


async def _outcome(client: AsyncClient, spec: Any, **params: Any) -> str:
    try:
        answer = await client.chat.completions.create(messages="hi", provider=spec, **params)
    except UnsupportedCapabilityError as exc:
        return f"refused: {exc}"
    return f"{answer.provider}: {answer.choices[0].message.content}"


@pytest.mark.parametrize(
    ("make", "params"),
    [
        (lambda: [ScriptedProvider("one", name="a"), ScriptedProvider("two", name="b")], {}),
        (lambda: [ImagesOnly(), ScriptedProvider("two", name="b")], {}),
        (lambda: [ImagesOnly()], {}),
        (lambda: [ScriptedProvider("x", capabilities=Capabilities(tools=False))], {"tools": TOOLS}),
        (lambda: [ScriptedProvider("x", capabilities=Capabilities(tools=True))], {"tools": TOOLS}),
    ],
)
async def test_resolved_providers_answer_and_refuse_as_a_plain_list(
    make: Any, params: dict[str, Any]
) -> None:
    client = AsyncClient()
    plain = await _outcome(client, make(), **params)
    resolved = await _outcome(client, ResolvedProviders(make()), **params)
    assert resolved == plain


def test_resolving_a_resolved_list_keeps_it_and_says_whether_all_serve_chat() -> None:
    chat = ScriptedProvider("x")
    resolved = ResolvedProviders([chat])
    assert resolve_providers(resolved) is resolved and resolved.chat_ready
    assert not ResolvedProviders([chat, ImagesOnly()]).chat_ready
