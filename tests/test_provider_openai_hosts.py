"""OpenAI-compatible hosts as vendor rows, and Azure OpenAI, against the fake host."""

from __future__ import annotations

from typing import Any

import pytest

from polymux import (
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    RateLimitError,
)
from polymux.errors import UnsupportedCapabilityError
from polymux.providers.openai import AzureOpenAI, OpenAICompatible
from polymux.providers.vendors import VENDORS, Groq, Mistral, OpenRouter, vendor_class

from .fakes import FakeServer, json
from .fakes.openai import (
    CHAT,
    reply,
    stream_text,
)
from .openai_support import MSGS
from .support import valid

# -- vendors --------------------------------------------------------------------------------------


async def test_groq_by_name_and_by_import(server: FakeServer) -> None:
    server.script("POST", CHAT, reply())
    async with AsyncClient(provider="groq", api_key="gk", base_url=server.url("/v1")) as client:
        assert isinstance(client.providers[0], Groq)
        response = await client.chat.completions.create(
            model="llama",
            messages=[{"role": "user", "content": "hi", "name": "alice"}],
            n=1,
            temperature=0.2,
        )
        assert response.provider == "groq"
        with pytest.raises(UnsupportedCapabilityError, match="n > 1"):
            _ = client.chat.completions.create(model="llama", messages=MSGS, n=2)
    sent = server.requests[0]
    assert sent.headers["Authorization"] == "Bearer gk"
    assert sent.json["messages"] == [{"role": "user", "content": "hi"}]  # no name
    assert "n" not in sent.json and sent.json["temperature"] == 0.2


async def test_mistral_tool_ids_and_random_seed(server: FakeServer) -> None:
    server.script("POST", CHAT, reply())
    long_id = "call_Abc123_long-id"
    messages: list[dict[str, Any]] = [
        *MSGS,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": long_id, "type": "function", "function": {"name": "f", "arguments": "{}"}},
                {
                    "id": "abcDEF123",
                    "type": "function",
                    "function": {"name": "g", "arguments": "{}"},
                },
            ],
        },
        {"role": "tool", "tool_call_id": long_id, "content": "1"},
        {"role": "tool", "tool_call_id": "abcDEF123", "content": "2"},
    ]
    async with AsyncClient(provider=Mistral(api_key="mk", base_url=server.url("/v1"))) as client:
        await client.chat.completions.create(model="mistral-small", messages=messages, seed=7)
        await client.chat.completions.create(model="mistral-small", messages=messages)
    sent = server.requests[0].json
    ids = [c["id"] for c in sent["messages"][1]["tool_calls"]]
    assert all(len(i) == 9 and i.isalnum() and i.isascii() for i in ids)
    assert ids[1] == "abcDEF123"  # already valid: unchanged
    assert [m["tool_call_id"] for m in sent["messages"][2:]] == ids  # the same mapping
    assert server.requests[1].json["messages"][1]["tool_calls"][0]["id"] == ids[0]  # stable
    assert sent["random_seed"] == 7 and "seed" not in sent
    assert messages[1]["tool_calls"][0]["id"] == long_id  # the caller's messages untouched


async def test_openrouter_attribution_headers_from_env(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.script("POST", CHAT, reply())
    provider = OpenRouter(api_key="ok", base_url=server.url("/v1"))
    async with AsyncClient(provider=provider) as client:
        monkeypatch.delenv("OPENROUTER_APP_URL", raising=False)
        monkeypatch.delenv("OPENROUTER_APP_NAME", raising=False)
        await client.chat.completions.create(model="x/y", messages=MSGS)
        monkeypatch.setenv("OPENROUTER_APP_URL", "https://myapp.example")
        monkeypatch.setenv("OPENROUTER_APP_NAME", "My App")
        await client.chat.completions.create(model="x/y", messages=MSGS)
    first, second = server.requests
    assert "HTTP-Referer" not in first.headers and "X-Title" not in first.headers
    assert second.headers["HTTP-Referer"] == "https://myapp.example"
    assert second.headers["X-Title"] == "My App"


def test_every_vendor_row_is_a_provider_class() -> None:
    import polymux.providers.vendors as vendors

    for row in VENDORS:
        cls = getattr(vendors, row.class_name)
        assert cls is vendor_class(row) and issubclass(cls, OpenAICompatible)
        assert cls.name == row.name and cls.default_base_url == row.base_url
        if not row.requires_api_key:
            assert cls().is_configured  # local servers need no key


# -- Azure ----------------------------------------------------------------------------------------

AZURE_CHAT = "/openai/deployments/prod-4o/chat/completions"


@pytest.mark.parametrize("suffix", ["", "/openai", "/"])
async def test_azure_deployment_url_version_and_key_header(server: FakeServer, suffix: str) -> None:
    server.script("POST", AZURE_CHAT, reply("from azure"), stream_text(["str", "eam"]))
    azure = AzureOpenAI(
        api_key="az-key",
        base_url=server.url(suffix),
        api_version="2024-10-21",
        deployments={"gpt-4o": "prod-4o"},
    )
    async with AsyncClient(provider=azure) as client:
        response = valid(await client.chat.completions.create(model="gpt-4o", messages=MSGS))
        stream = client.chat.completions.create(model="gpt-4o", messages=MSGS, stream=True)
        assert await stream.collect_text() == "stream"
    assert response.choices[0].message.content == "from azure"
    for sent in server.requests:
        assert sent.path == AZURE_CHAT and sent.query == {"api-version": "2024-10-21"}
        assert sent.headers["api-key"] == "az-key" and "Authorization" not in sent.headers


async def test_azure_from_environment(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", server.url())
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "env-az")
    monkeypatch.setenv("OPENAI_API_VERSION", "2025-01-01-preview")
    server.script("POST", "/openai/deployments/my-dep/chat/completions", reply())
    async with AsyncClient(provider="azure") as client:
        await client.chat.completions.create(model="my-dep", messages=MSGS)
    sent = server.requests[0]
    assert (
        sent.query == {"api-version": "2025-01-01-preview"} and sent.headers["api-key"] == "env-az"
    )


@pytest.mark.parametrize(
    ("status", "body", "kind", "message"),
    [
        (
            401,
            {"statusCode": 401, "message": "Access denied due to invalid subscription key."},
            AuthenticationError,
            "Access denied due to invalid subscription key.",
        ),
        (
            429,
            {"error": {"code": "429", "message": "Requests to the deployment have exceeded."}},
            RateLimitError,
            "Requests to the deployment have exceeded.",
        ),
        (
            400,
            {
                "error": {
                    "message": "The response was filtered due to the prompt triggering a filter.",
                    "type": None,
                    "param": "prompt",
                    "code": "content_filter",
                    "status": 400,
                    "innererror": {"code": "ResponsibleAIPolicyViolation"},
                }
            },
            BadRequestError,
            "The response was filtered",
        ),
    ],
    ids=["flat-401", "nested-429", "content-filter"],
)
async def test_azure_error_shapes(
    server: FakeServer, status: int, body: dict[str, Any], kind: type[Exception], message: str
) -> None:
    server.script("POST", AZURE_CHAT, json(status, body))
    azure = AzureOpenAI(api_key="az-key", base_url=server.url(), deployments={"m": "prod-4o"})
    async with AsyncClient(provider=azure, max_retries=0) as client:
        with pytest.raises(kind) as info:
            await client.chat.completions.create(model="m", messages=MSGS)
    assert message in str(info.value) and info.value.status_code == status  # type: ignore[attr-defined]
    assert info.value.provider == "azure"  # type: ignore[attr-defined]
