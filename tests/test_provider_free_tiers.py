"""The free-tier OpenAI-compatible hosts (vendor rows): each sends its key from its own
variable to its documented endpoint, Cloudflare's account id is filled into its URL, and
``polymux providers`` says what each gives for free."""

from __future__ import annotations

import json as jsonlib

import pytest

from polymux import AsyncClient
from polymux.errors import ConfigurationError
from polymux.providers.vendors import VENDORS, vendor_class

from .cli_support import clean_env, run_cli
from .fakes import FakeServer
from .fakes.openai import CHAT, reply

#: name -> (documented base URL, key variable)
FREE_HOSTS = {
    "github": ("https://models.github.ai/inference", "GITHUB_TOKEN"),
    "cloudflare": (
        "https://api.cloudflare.com/client/v4/accounts/{CLOUDFLARE_ACCOUNT_ID}/ai/v1",
        "CLOUDFLARE_API_TOKEN",
    ),
    "nvidia": ("https://integrate.api.nvidia.com/v1", "NVIDIA_API_KEY"),
    "sambanova": ("https://api.sambanova.ai/v1", "SAMBANOVA_API_KEY"),
    "nebius": ("https://api.studio.nebius.com/v1", "NEBIUS_API_KEY"),
    "novita": ("https://api.novita.ai/v3/openai", "NOVITA_API_KEY"),
    "hyperbolic": ("https://api.hyperbolic.xyz/v1", "HYPERBOLIC_API_KEY"),
    "scaleway": ("https://api.scaleway.ai/v1", "SCW_SECRET_KEY"),
}


@pytest.mark.parametrize("name", sorted(FREE_HOSTS))
async def test_each_free_host_sends_its_key_from_its_variable(
    name: str, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, variable = FREE_HOSTS[name]
    row = next(r for r in VENDORS if r.name == name)
    assert (row.base_url, row.api_key_env[0]) == (url, variable)
    assert row.free_tier  # polymux providers says what it gives
    monkeypatch.setenv(variable, f"{name}-secret")
    server.script("POST", CHAT, reply("free"))
    async with AsyncClient(provider=name, base_url=server.url("/v1")) as client:
        result = await client.chat.completions.create(messages="hi")
    assert result.choices[0].message.content == "free"
    sent = server.requests[0]
    assert sent.headers["Authorization"] == f"Bearer {name}-secret"
    assert sent.json["model"] == row.default_model


def test_cloudflare_fills_its_account_id_into_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    cls = vendor_class(next(r for r in VENDORS if r.name == "cloudflare"))
    monkeypatch.delenv("CLOUDFLARE_ACCOUNT_ID", raising=False)
    with pytest.raises(ConfigurationError, match="CLOUDFLARE_ACCOUNT_ID"):
        _ = cls(api_key="t").root
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", "ab/12 ?")  # encoded, never a new path
    assert cls(api_key="t").root == (
        "https://api.cloudflare.com/client/v4/accounts/ab%2F12%20%3F/ai/v1"
    )
    assert cls(api_key="t", base_url="http://127.0.0.1:9/v1").root == "http://127.0.0.1:9/v1"


def test_providers_lists_what_is_free() -> None:
    listed = run_cli("providers", "--json", env=clean_env())
    assert listed.returncode == 0, listed.stderr
    table = {row["name"]: row for row in jsonlib.loads(listed.stdout)}
    assert all(table[name]["free_tier"] for name in FREE_HOSTS)
    assert table["openai"]["free_tier"] is None
    plain = run_cli("providers", env=clean_env())
    github = next(line for line in plain.stdout.splitlines() if line.startswith("github "))
    assert "(free: " in github and "GITHUB_TOKEN" in github


async def test_openrouter_free_routes_are_in_the_registry(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The registry's name of a free route is sent as OpenRouter's own id for it.
    monkeypatch.setenv("OPENROUTER_API_KEY", "or-key")
    server.script("POST", CHAT, reply("free"))
    from polymux.providers.vendors import OpenRouter

    async with AsyncClient(provider=OpenRouter(base_url=server.url("/v1"))) as client:
        await client.chat.completions.create(model="deepseek-r1:free", messages="hi")
    assert server.requests[0].json["model"] == "deepseek/deepseek-r1:free"
