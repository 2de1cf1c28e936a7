"""The model registry: data, user extension, routing by model name, models.list merging."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest

from polymux import (
    AllProvidersFailedError,
    APIConnectionError,
    AsyncClient,
    ConfigurationError,
    NoProviderForModelError,
)
from polymux.providers.vendors import VENDORS
from polymux.routing import ModelRegistry, Router
from polymux.testing import ScriptedProvider
from polymux.types import ModelsRequest

from .fakes import FakeServer
from .fakes.openai import CHAT, MODELS, error, models, reply

_ENV = {
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_ENDPOINT",
    "ANTHROPIC_API_KEY",
    "OLLAMA_HOST",
    "OLLAMA_BASE_URL",
    "POLLINATIONS_API_KEY",
    *(var for row in VENDORS for var in row.api_key_env),
    *(row.base_url_env for row in VENDORS if row.base_url_env),
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No provider is usable unless a test says so."""
    for var in _ENV:
        monkeypatch.delenv(var, raising=False)


# -- the data -------------------------------------------------------------------------------------


def test_builtin_registry_knows_the_common_models_and_their_provider_ids() -> None:
    registry = ModelRegistry.builtin()
    for name in (
        "gpt-4o",
        "gpt-4o-mini",
        "gpt-4.1",
        "o3-mini",
        "claude-sonnet-4",
        "claude-3-5-haiku",
        "gemini-2.5-flash",
        "gemini-2.5-pro",
        "llama-3.3-70b",
        "deepseek-chat",
        "mistral-large",
    ):
        assert name in registry, name
    llama = registry.lookup("llama-3.3-70b")
    assert llama is not None
    assert llama.model_for("groq") == "llama-3.3-70b-versatile"
    assert llama.model_for("together") == "meta-llama/Llama-3.3-70B-Instruct-Turbo"
    assert llama.model_for("openai") is None
    assert registry.lookup("claude-3.5-haiku") is registry.lookup("claude-3-5-haiku")
    assert registry.lookup("GPT-4O") is registry.lookup("gpt-4o")  # names are case-insensitive
    assert registry.lookup("no-such-model") is None


def test_builtin_registry_names_only_providers_with_plausible_names() -> None:
    # Every provider name is lower-case, and every id non-empty: a typo here would make a
    # route silently unusable.
    for entry in ModelRegistry.builtin():
        assert entry.routes, entry.name
        for provider, model in entry.routes:
            assert provider == provider.lower() and model, (entry.name, provider)


# -- user extension -------------------------------------------------------------------------------


def test_user_entries_add_models_and_merge_in_front_of_builtin_ones() -> None:
    registry = ModelRegistry.from_source(
        {
            "my-model": {"aliases": ["mine"], "providers": {"vllm": "org/my-model-7b"}},
            "llama-3.3-70b": {"providers": {"vllm": "llama33", "groq": "llama-custom"}},
            "gpt-4o": {"providers": {"openrouter": None}},  # None removes a provider
            "fast": "llama-3.3-70b",  # a string is one more alias
        }
    )
    mine = registry.lookup("mine")
    assert mine is not None and mine.name == "my-model"
    assert mine.routes == (("vllm", "org/my-model-7b"),)
    llama = registry.lookup("fast")
    assert llama is not None and llama.name == "llama-3.3-70b"
    assert llama.providers[:3] == ["vllm", "groq", "cerebras"]
    assert llama.model_for("groq") == "llama-custom"
    gpt = registry.lookup("gpt-4o")
    assert gpt is not None and "openrouter" not in gpt.providers and "openai" in gpt.providers
    # The built-in registry itself is untouched.
    builtin = ModelRegistry.builtin().lookup("llama-3.3-70b")
    assert builtin is not None and builtin.providers[0] == "groq"


def test_replace_drops_the_builtin_providers() -> None:
    registry = ModelRegistry.from_source(
        {"gpt-4o": {"replace": True, "providers": {"azure": "my-deployment"}}}
    )
    entry = registry.lookup("gpt4o")
    assert entry is not None and entry.routes == (("azure", "my-deployment"),)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"m": 3}, "expected"),
        ({"m": {"provider": {"x": "y"}}}, "unknown key"),
        ({"m": {"providers": ["openai"]}}, "'providers' must map"),
        ({"m": {"providers": {"openai": 5}}}, "model id"),
        ({"m": {"aliases": "x"}}, "'aliases'"),
        ({"m": {"replace": "yes"}}, "'replace'"),
        ({"alias": "no-such-model"}, "not a known model"),
    ],
)
def test_bad_entries_are_configuration_errors_naming_the_entry(
    data: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message) as info:
        AsyncClient(models=data)
    assert repr(next(iter(data))) in str(info.value)


def test_models_from_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    path.write_text(json.dumps({"models": {"local-7b": {"providers": {"vllm": "org/7b"}}}}))
    entry = ModelRegistry.from_source(str(path)).lookup("local-7b")
    assert entry is not None and entry.model_for("vllm") == "org/7b"
    assert "gpt-4o" in ModelRegistry.from_source(path)  # the built-in entries stay


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is 3.11+")
def test_models_from_a_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text(
        '[models."local-7b"]\naliases = ["l7"]\nproviders = { vllm = "org/7b", groq = "g-7b" }\n'
    )
    entry = ModelRegistry.from_source(path).lookup("l7")
    assert entry is not None and entry.routes == (("vllm", "org/7b"), ("groq", "g-7b"))


def test_unreadable_or_invalid_files_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        ModelRegistry.from_source(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigurationError, match="invalid JSON"):
        ModelRegistry.from_source(bad)
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    with pytest.raises(ConfigurationError, match="table of models"):
        ModelRegistry.from_source(listed)


# -- routing by model name ------------------------------------------------------------------------


def test_no_usable_provider_lists_who_serves_the_model_and_what_each_needs() -> None:
    client = AsyncClient()
    with pytest.raises(NoProviderForModelError) as info:
        _ = client.chat.completions.create(model="llama-3.3-70b", messages="hi")
    err = info.value
    assert err.model == "llama-3.3-70b"
    assert err.candidates["groq"] == "set GROQ_API_KEY"
    assert err.candidates["together"] == "set TOGETHER_API_KEY"
    assert "OLLAMA_OPENAI_BASE_URL" in err.candidates["ollama-openai"]
    assert "GROQ_API_KEY" in str(err) and "openrouter" in str(err)


def test_unknown_model_says_how_to_route_it() -> None:
    with pytest.raises(NoProviderForModelError, match="not in the model registry") as info:
        _ = AsyncClient().chat.completions.create(model="gpt-99", messages="hi")
    assert info.value.candidates == {}
    assert "provider=" in str(info.value) and "models=" in str(info.value)


def test_unregistered_provider_names_are_skipped_not_fatal(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VLLM_BASE_URL", "http://127.0.0.1:9/v1")
    client = AsyncClient(
        models={"m": {"providers": {"someone-elses-provider": "x", "vllm": "org/m"}}}
    )
    with caplog.at_level(logging.DEBUG, logger="polymux.routing"):
        providers = client.router.providers_for_model("m")
    assert [p.name for p in providers] == ["vllm"]
    assert "someone-elses-provider" in caplog.text
    # Only unregistered names: the error says so instead of crashing.
    client = AsyncClient(models={"n": {"providers": {"not-yet-written": "x"}}})
    with pytest.raises(NoProviderForModelError) as info:
        _ = client.chat.completions.create(model="n", messages="hi")
    assert "not available" in info.value.candidates["not-yet-written"]


async def test_model_routes_to_the_first_usable_provider_with_its_own_model_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with FakeServer() as server:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        monkeypatch.setenv("OPENAI_BASE_URL", server.url("/v1"))
        monkeypatch.setenv("VLLM_BASE_URL", server.url("/vllm/v1"))
        server.script("POST", CHAT, error(503, "overloaded"))
        server.script("POST", "/vllm/v1/chat/completions", reply("from vllm"))
        # groq comes first but has no key: skipped. openai fails: vllm answers.
        entries = {"team-model": {"providers": {"groq": "g", "openai": "oa-id", "vllm": "v-id"}}}
        async with AsyncClient(models=entries, max_retries=0) as client:
            response = await client.chat.completions.create(model="team-model", messages="hi")
        assert response.provider == "vllm"
        assert response.choices[0].message.content == "from vllm"
        assert [r.json["model"] for r in server.requests] == ["oa-id", "v-id"]
        assert await server.wait_idle()


async def test_a_named_provider_receives_its_own_id_for_a_registry_model() -> None:
    groq = ScriptedProvider("ok", name="groq")
    client = AsyncClient(provider=groq)
    await client.chat.completions.create(model="llama-3.3-70b", messages="hi")
    await client.chat.completions.create(model="llama3.3-70b", messages="hi")  # an alias
    await client.chat.completions.create(model="not-in-registry", messages="hi")
    assert [r.model for r in groq.requests] == [
        "llama-3.3-70b-versatile",
        "llama-3.3-70b-versatile",
        "not-in-registry",  # never replaced by another model
    ]
    # A provider the registry does not route the model to gets the name as given.
    other = ScriptedProvider("ok", name="mine")
    await AsyncClient(provider=other).chat.completions.create(model="gpt-4o", messages="hi")
    assert other.requests[0].model == "gpt-4o"


def test_router_keeps_one_instance_per_provider_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROQ_API_KEY", "k")
    router = Router()
    first = router.providers_for_model("llama-3.3-70b")
    again = router.providers_for_model("llama-3.1-8b")
    assert first[0] is again[0] and first[0].name == "groq"


# -- models.list ----------------------------------------------------------------------------------


async def test_models_list_adds_canonical_names_for_reported_ids() -> None:
    groq = ScriptedProvider(name="groq", models=["llama-3.3-70b-versatile", "whisper-large-v3"])
    client = AsyncClient(provider=groq)
    ids = [m.id for m in await client.models.list()]
    assert ids == ["llama-3.3-70b-versatile", "whisper-large-v3", "llama-3.3-70b"]
    # Not reported by the provider: not listed, even though the registry maps it.
    assert "llama-3.1-8b" not in ids


async def test_models_list_without_provider_asks_every_usable_registry_provider(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with FakeServer() as server:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        monkeypatch.setenv("OPENAI_BASE_URL", server.url("/v1"))
        monkeypatch.setenv("VLLM_BASE_URL", server.url("/vllm/v1"))
        server.script("GET", MODELS, models("gpt-4o", "gpt-4o-mini"))
        server.script("GET", "/vllm/v1/models", error(500, "down"))  # left out, not fatal
        entries = {"local": {"providers": {"vllm": "org/local"}}}
        async with AsyncClient(models=entries, max_retries=0) as client:
            listed = await client.models.list()
        assert [(m.id, m.provider) for m in listed] == [
            ("gpt-4o", "openai"),
            ("gpt-4o-mini", "openai"),
        ]
        assert {r.path for r in server.requests} == {"/v1/models", "/vllm/v1/models"}


async def test_models_list_leaves_out_a_failing_provider_of_a_fallback_list() -> None:
    from polymux.testing import FunctionProvider

    class Down(FunctionProvider):
        async def list_models(self, request: ModelsRequest) -> list[str]:
            raise APIConnectionError("refused", provider=self.name)

    up = FunctionProvider(lambda r: "x", name="up", models=["m-up"])
    down = Down(lambda r: "x", name="down")
    client = AsyncClient(provider=[down, up])
    assert [m.id for m in await client.models.list()] == ["m-up"]
    alone = AsyncClient(provider=[Down(lambda r: "x", name="d1"), Down(lambda r: "x", name="d2")])
    with pytest.raises(AllProvidersFailedError):
        await alone.models.list()
    with pytest.raises(APIConnectionError):
        await AsyncClient(provider=down).models.list()


def test_a_provider_without_an_http_endpoint_needs_no_base_url() -> None:
    from polymux.providers.openai import OpenAICompatible
    from polymux.routing.usable import unusable_reason

    assert unusable_reason(ScriptedProvider("hi")) is None
    assert unusable_reason(OpenAICompatible()) == "a base_url"
    assert unusable_reason(OpenAICompatible(base_url="http://10.0.0.5:8000/v1")) is None
