"""Cost accounting: the price table (shipped defaults, config overrides), the cost on every
usage row the gateway writes, and ``polymux usage`` showing it."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from polymux.errors import ConfigurationError
from polymux.server import create_app
from polymux.server.config import parse_config
from polymux.server.prices import Price, PriceTable, default_prices
from polymux.server.store import KeyLimits, Store, UsageRecord

from .cli_support import run_cli
from .fakes import FakeServer
from .fakes.openai import CHAT, reply
from .server_harness import asgi_request, fake_config


def test_cost_of_tokens_cached_tokens_images_and_audio() -> None:
    price = Price(input=2.0, cached_input=0.5, output=8.0, image=0.04, audio_second=0.001)
    record = UsageRecord(
        "/v1/chat/completions",
        200,
        prompt_tokens=1_000_000,
        cached_tokens=400_000,
        completion_tokens=500_000,
    )
    # 600k fresh input at $2/M + 400k cached at $0.5/M + 500k output at $8/M.
    assert price.cost(record) == pytest.approx(1.2 + 0.2 + 4.0)
    assert Price(input=2.0).cost(record) == pytest.approx(2.0)  # cached priced as input
    assert price.cost(UsageRecord("/v1/images/generations", 200, images=3)) == pytest.approx(0.12)
    audio = UsageRecord("/v1/audio/transcriptions", 200, audio_seconds=90.0)
    assert price.cost(audio) == pytest.approx(0.09)
    speech = UsageRecord("/v1/audio/speech", 200, characters=2000)
    assert Price(characters=15.0).cost(speech) == pytest.approx(0.03)


def test_lookup_prefers_the_providers_own_price_and_unknown_is_none() -> None:
    table = PriceTable({"m": Price(input=1.0), "cheap/m": Price(input=0.5)})
    row = UsageRecord("/v1/chat/completions", 200, model="m", prompt_tokens=1_000_000)
    row.provider = "cheap"
    assert table.cost(row) == pytest.approx(0.5)
    row.provider = "other"
    assert table.cost(row) == pytest.approx(1.0)
    row.model = "other/m"  # a model pinned to a provider by name
    assert table.cost(row) == pytest.approx(1.0)
    row.model = "unknown-model"
    assert table.cost(row) is None
    row.model = None
    assert table.cost(row) is None


def test_lookups_remembered_answer_as_the_first_did_and_stay_bounded() -> None:
    # The table remembers what each (model, provider) found, up to a bound: callers choose
    # model names, so a stream of new ones must neither grow it further nor change answers.
    from polymux.server import prices

    table = PriceTable({"m": Price(input=1.0), "cheap/m": Price(input=0.5)})
    pairs = [("m", "cheap"), ("m", "other"), ("other/m", None), ("x", "cheap"), (None, "p")]
    first = [table.lookup(*pair) for pair in pairs]
    assert first == [Price(input=0.5), Price(input=1.0), Price(input=1.0), None, None]
    for i in range(prices._REMEMBERED + 100):
        assert table.lookup(f"made-up-{i}", "cheap") is None
    assert len(table._found) == prices._REMEMBERED
    assert table.lookup("cheap/m", "other") == Price(input=0.5)  # found, not remembered
    assert [table.lookup(*pair) for pair in pairs] == first


def test_shipped_prices_load_and_the_config_overrides_them() -> None:
    shipped = default_prices()
    assert shipped["gpt-4o-mini"].output > shipped["gpt-4o-mini"].input > 0
    config = parse_config(
        {"prices": {"gpt-4o-mini": {"input": 1.0}, "local/llama": {"input": 0, "output": 0}}}
    )
    table = PriceTable.with_overrides(config.prices)
    row = UsageRecord("/v1/chat/completions", 200, model="gpt-4o-mini", prompt_tokens=10**6)
    assert table.cost(row) == pytest.approx(1.0)  # replaced, not merged with the shipped entry
    row.model, row.provider = "llama", "local"
    assert table.cost(row) == 0.0  # free is 0, not unknown
    for bad, message in (
        ({"m": {"input": -1}}, "0 or more"),
        ({"m": {"input": "cheap"}}, "0 or more"),
        ({"m": {"per_token": 1}}, "unknown price"),
        ({"m": 3}, "table of prices"),
    ):
        with pytest.raises(ConfigurationError, match=message):
            parse_config({"prices": bad})


async def test_every_usage_row_carries_its_cost(upstream: FakeServer, tmp_path: Path) -> None:
    upstream.script(
        "POST",
        CHAT,
        reply(
            "hi",
            usage={
                "prompt_tokens": 1000,
                "completion_tokens": 200,
                "total_tokens": 1200,
                "prompt_tokens_details": {"cached_tokens": 600},
            },
        ),
    )
    prices = {"m1": Price(input=3.0, cached_input=0.3, output=15.0)}
    app = create_app(fake_config(upstream, prices=prices), db_path=tmp_path / "g.db")
    try:
        message = {"messages": [{"role": "user", "content": "hi"}]}
        for model in ("m1", "unpriced-model"):
            status, _, body = await asgi_request(
                app, "POST", "/v1/chat/completions", {"model": model, **message}
            )
            assert status == 200, body
    finally:
        await app.aclose()
    with Store(tmp_path / "g.db") as store:
        priced, unpriced = store.usage_rows()
    assert (priced["model"], priced["cached_tokens"]) == ("m1", 600)
    assert priced["cost"] == pytest.approx((400 * 3.0 + 600 * 0.3 + 200 * 15.0) / 1e6)
    assert unpriced["model"] == "unpriced-model" and unpriced["cost"] is None


def test_usage_command_shows_cost(tmp_path: Path) -> None:
    db = tmp_path / "u.db"
    with Store(db) as store:
        store.log_usage(
            [
                UsageRecord("/v1/chat/completions", 200, key_name="k", model="a", cost=0.25),
                UsageRecord("/v1/chat/completions", 200, key_name="k", model="a", cost=0.5),
                UsageRecord("/v1/chat/completions", 200, key_name="k", model="b"),
            ]
        )

    def usage(*args: str) -> str:
        out = run_cli("usage", *args, "--db", str(db), timeout=60)
        assert out.returncode == 0, out.stderr
        return out.stdout

    by_model = {line["model"]: line for line in orjson.loads(usage("--by", "model", "--json"))}
    assert by_model["a"]["cost"] == pytest.approx(0.75) and by_model["a"]["unpriced"] == 0
    assert by_model["b"]["cost"] == 0 and by_model["b"]["unpriced"] == 1
    table = usage("--by", "key")
    assert "COST $" in table and "0.7500+" in table  # "+": some requests had no price


async def test_a_usd_budget_is_spent_by_the_gateways_own_costs(
    upstream: FakeServer, tmp_path: Path
) -> None:
    # Each answer costs $0.6 (100k prompt tokens at $2/M + 50k completion at $8/M): a $1
    # budget admits two requests (spent 0 then 0.6), then refuses the third (spent 1.2).
    upstream.script(
        "POST",
        CHAT,
        reply(
            "hi",
            usage={"prompt_tokens": 100_000, "completion_tokens": 50_000, "total_tokens": 150_000},
        ),
    )
    db = tmp_path / "g.db"
    with Store(db) as store:
        key = store.create_key("team", limits=KeyLimits(budget=1.0, budget_unit="usd"))
    prices = {"m1": Price(input=2.0, output=8.0)}
    app = create_app(fake_config(upstream, prices=prices), db_path=db, key_refresh=0)
    auth = [("authorization", f"Bearer {key}")]
    body = {"model": "m1", "messages": [{"role": "user", "content": "hi"}]}
    try:
        statuses = [
            (await asgi_request(app, "POST", "/v1/chat/completions", body, headers=auth))[0]
            for _ in range(3)
        ]
    finally:
        await app.aclose()
    assert statuses == [200, 200, 429]
