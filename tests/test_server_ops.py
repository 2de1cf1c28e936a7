"""Operations: request ids, GET /ready and its checks, GET /metrics, JSON request logs.

The metrics are read with prometheus-client's own text parser, and the request ids through
the official ``openai`` SDK's ``request_id`` (what a caller reporting a problem would quote).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from polymux.server import Gateway, create_app
from polymux.server.errormap import error_type
from polymux.server.metrics import OTHER, GatewayMetrics
from polymux.server.request_log import LOGGER
from polymux.server.store import Store, UsageRecord

from .fakes import FakeServer
from .fakes.openai import CHAT, error, reply, stream_text
from .fakes.server import stall
from .server_harness import LiveGateway, asgi_request, fake_config

HELLO = {"model": "m1", "messages": [{"role": "user", "content": "hi"}]}
REMOTE = ("203.0.113.9", 40000)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape by (name, labels)."""
    out: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(
    scrape: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in scrape.items() if n == name and wanted <= ls)


async def scrape(app: Gateway, headers: list[tuple[str, str]] | None = None) -> dict[Any, float]:
    status, answer_headers, body = await asgi_request(app, "GET", "/metrics", headers=headers or [])
    assert status == 200, body
    assert answer_headers["content-type"].startswith("text/plain")
    return samples(body.decode())


# -- request ids -------------------------------------------------------------------------------
async def test_a_request_id_is_generated_returned_and_stored(app: Gateway, tmp_path: Path) -> None:
    status, headers, _ = await asgi_request(app, "POST", "/v1/chat/completions", HELLO)
    assert status == 200
    rid = headers["x-request-id"]
    assert rid.startswith("req_") and len(rid) == 28
    int(rid[4:], 16)
    _, again, _ = await asgi_request(app, "POST", "/v1/chat/completions", HELLO)
    assert again["x-request-id"] != rid
    await app.aclose()
    with Store(tmp_path / "g.db") as store:
        assert [row["request_id"] for row in store.usage_rows()] == [rid, again["x-request-id"]]


@pytest.mark.parametrize(
    "given",
    [
        "a b",  # space
        "x" * 129,  # too long
        'id"; drop',  # quote
        "caf\u00e9",  # not ASCII
        "",
    ],
)
async def test_an_unsafe_caller_request_id_is_replaced(app: Gateway, given: str) -> None:
    raw = [(b"x-request-id", given.encode())]
    status, headers, _ = await _with_raw_header(app, raw)
    assert status == 200
    assert headers["x-request-id"] != given
    assert headers["x-request-id"].startswith("req_")


async def _with_raw_header(
    app: Gateway, extra: list[tuple[bytes, bytes]]
) -> tuple[int, dict[str, str], bytes]:
    """asgi_request with header bytes that are not valid text."""

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        scope["headers"] = [*scope["headers"], *extra]
        await app(scope, receive, send)

    return await asgi_request(wrapped, "POST", "/v1/chat/completions", HELLO)


async def test_a_safe_caller_request_id_is_kept(app: Gateway, tmp_path: Path) -> None:
    rid = "trace-42.abc:DEF_" + "x" * 100
    status, headers, _ = await asgi_request(
        app, "POST", "/v1/chat/completions", HELLO, headers=[("X-Request-Id", rid)]
    )
    assert (status, headers["x-request-id"]) == (200, rid)
    await app.aclose()
    with Store(tmp_path / "g.db") as store:
        assert store.usage_rows()[0]["request_id"] == rid


async def test_every_error_answer_carries_the_request_id(
    upstream: FakeServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    upstream.script("POST", CHAT, error(500, "upstream broke"))
    app = create_app(fake_config(upstream), db_path=tmp_path / "g.db", key_refresh=0)
    try:
        cases = [
            ("GET", "/nowhere", None, 404),
            ("DELETE", "/v1/chat/completions", None, 405),
            ("POST", "/v1/chat/completions", {"model": "m"}, 400),
        ]
        for method, path, body, expected in cases:
            status, headers, _ = await asgi_request(app, method, path, body)
            assert status == expected
            assert headers["x-request-id"].startswith("req_")
        with caplog.at_level(logging.WARNING, logger="polymux.server"):
            status, headers, _ = await asgi_request(
                app, "POST", "/v1/chat/completions", HELLO, headers=[("x-request-id", "abc-123")]
            )
        assert (status, headers["x-request-id"]) == (502, "abc-123")
        assert any("abc-123" in r.getMessage() for r in caplog.records)  # logged with its id
        status, headers, _ = await asgi_request(app, "GET", "/metrics", client=REMOTE)
        assert status == 403 and headers["x-request-id"]
        with Store(tmp_path / "g.db") as store:
            store.create_key("alice")
        status, headers, _ = await asgi_request(app, "POST", "/v1/chat/completions", HELLO)
        assert status == 401 and headers["x-request-id"]
    finally:
        await app.aclose()


def test_the_sdk_sees_the_request_id_of_answers_streams_and_errors(tmp_path: Path) -> None:
    def configure(upstream: FakeServer) -> Any:
        upstream.script("POST", CHAT, reply("hi"), stream_text(["a", "b"]), error(429, "slow"))
        return fake_config(upstream)

    with LiveGateway(tmp_path, configure) as gw:
        client = openai.OpenAI(base_url=gw.url + "/v1", api_key="unused", max_retries=0)
        raw = client.chat.completions.with_raw_response.create(
            model="m1", messages=[{"role": "user", "content": "hi"}]
        )
        answered = raw.headers["x-request-id"]
        assert raw.parse().choices[0].message.content == "hi"
        with client.chat.completions.with_streaming_response.create(
            model="m1",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            extra_headers={"x-request-id": "my-stream-1"},
        ) as streamed:
            assert streamed.headers["x-request-id"] == "my-stream-1"
            assert "".join(c.choices[0].delta.content or "" for c in streamed.parse() if c.choices)
        with pytest.raises(openai.RateLimitError) as raised:
            client.chat.completions.create(model="m1", messages=[{"role": "user", "content": "x"}])
        failed = raised.value.request_id
        assert failed is not None and failed.startswith("req_")
        rows = {row["request_id"]: row for row in gw.usage_rows()}
        assert rows[answered]["status"] == 200
        assert rows["my-stream-1"]["stream"]
        assert rows[failed]["status"] == 429


# -- readiness ---------------------------------------------------------------------------------
async def test_ready_passes_with_the_database_and_an_upstream(app: Gateway) -> None:
    status, _, body = await asgi_request(app, "GET", "/ready", client=REMOTE)  # public
    assert status == 200
    assert orjson.loads(body) == {
        "status": "ready",
        "checks": {"database": "ok", "upstreams": "ok"},
    }
    status, _, body = await asgi_request(app, "GET", "/health", client=REMOTE)
    assert (status, orjson.loads(body)["status"]) == (200, "ok")


async def test_ready_fails_while_the_database_cannot_be_read(app: Gateway, tmp_path: Path) -> None:
    await asgi_request(app, "POST", "/v1/chat/completions", HELLO)
    (tmp_path / "g.db").rename(tmp_path / "moved.db")
    status, _, body = await asgi_request(app, "GET", "/ready")
    answer = orjson.loads(body)
    assert status == 503 and answer["status"] == "not_ready"
    assert answer["checks"]["database"].startswith("the database cannot be read")
    assert answer["checks"]["upstreams"] == "ok"
    (tmp_path / "moved.db").rename(tmp_path / "g.db")
    status, _, _ = await asgi_request(app, "GET", "/ready")
    assert status == 200  # recovered, no restart
    status, _, _ = await asgi_request(app, "GET", "/health")
    assert status == 200  # liveness is not readiness


async def test_ready_fails_while_every_upstream_cools_down(
    upstream: FakeServer, tmp_path: Path
) -> None:
    upstream.script("POST", CHAT, error(429, "slow down", headers={"retry-after": "120"}))
    app = create_app(fake_config(upstream), db_path=tmp_path / "g.db", key_refresh=0)
    try:
        status, _, _ = await asgi_request(app, "POST", "/v1/chat/completions", HELLO)
        assert status == 429
        status, _, body = await asgi_request(app, "GET", "/ready")
        checks = orjson.loads(body)["checks"]
        assert status == 503
        assert checks["upstreams"].startswith("every upstream is cooling down: fake for 1")
        metrics = await scrape(app)
        assert value(metrics, "polymux_upstream_cooling_down", provider="fake") == 1
        assert 100 < value(metrics, "polymux_upstream_cooldown_seconds", provider="fake") <= 120
    finally:
        await app.aclose()


async def test_readiness_checks_plugged_in_by_other_parts(
    app: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    async def redis_down() -> str | None:
        return "redis is unreachable"

    async def raises() -> str | None:
        raise ConnectionError("secret-ish detail 10.0.0.7")

    async def hangs() -> str | None:
        await asyncio.Event().wait()
        return None

    app.readiness.add("redis", redis_down)
    app.readiness.add("postgres", raises)
    app.readiness.add("slow", hangs, timeout=0.05)
    with caplog.at_level(logging.WARNING, logger="polymux.server"):
        status, _, body = await asgi_request(app, "GET", "/ready")
        await asgi_request(app, "GET", "/ready")
    checks = orjson.loads(body)["checks"]
    assert status == 503
    assert checks == {
        "database": "ok",
        "upstreams": "ok",
        "redis": "redis is unreachable",
        "postgres": "failed (ConnectionError)",
        "slow": "no answer within 0.05 s",
    }
    assert "10.0.0.7" not in body.decode()  # an exception's text goes to the log only
    logged = [r.getMessage() for r in caplog.records]
    assert any("10.0.0.7" in m for m in logged)
    assert sum("redis fails" in m for m in logged) == 1  # logged once, not every probe

    async def redis_up() -> str | None:
        return None

    app.readiness.add("redis", redis_up)
    app.readiness.add("postgres", redis_up)
    app.readiness.add("slow", redis_up)
    status, _, _ = await asgi_request(app, "GET", "/ready")
    assert status == 200


# -- metrics -----------------------------------------------------------------------------------
@pytest.fixture
async def keyed(upstream: FakeServer, tmp_path: Path) -> Any:
    """A gateway with a key named alice: (app, key)."""
    with Store(tmp_path / "g.db") as store:
        key = store.create_key("alice")
    app = create_app(fake_config(upstream), db_path=tmp_path / "g.db", key_refresh=0)
    yield app, key
    await app.aclose()


async def test_metrics_count_requests_errors_tokens_and_latency(
    upstream: FakeServer, tmp_path: Path
) -> None:
    upstream.script(
        "POST",
        CHAT,
        reply("hello", usage={"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}),
        stream_text(["a", "b", "c"]),  # 9 prompt, 3 completion tokens
        error(500, "upstream broke"),
    )
    app = create_app(fake_config(upstream), db_path=tmp_path / "g.db", key_refresh=0)
    try:
        assert (await asgi_request(app, "POST", "/v1/chat/completions", HELLO))[0] == 200
        streamed = {**HELLO, "stream": True}
        assert (await asgi_request(app, "POST", "/v1/chat/completions", streamed))[0] == 200
        assert (await asgi_request(app, "POST", "/v1/chat/completions", HELLO))[0] == 502
        assert (await asgi_request(app, "POST", "/v1/chat/completions", {"model": 1}))[0] == 400
        for path in ("/health", "/ready", "/", "/static/missing.js", "/openapi.json"):
            await asgi_request(app, "GET", path)  # probes, scrapes and pages are not counted
        metrics = await scrape(app)
    finally:
        await app.aclose()
    chat = {"endpoint": "/v1/chat/completions"}
    assert value(metrics, "polymux_requests_total", **chat, status="200", model="m1") == 2
    assert value(metrics, "polymux_requests_total", **chat, status="502") == 1
    assert value(metrics, "polymux_requests_total", **chat, status="400", model="-") == 1
    assert value(metrics, "polymux_requests_total") == 4
    assert value(metrics, "polymux_errors_total", type="upstream_error", provider="-") == 1
    assert value(metrics, "polymux_errors_total", type="invalid_request_error") == 1
    assert value(metrics, "polymux_errors_total") == 2
    assert value(metrics, "polymux_tokens_total", model="m1", provider="fake", kind="prompt") == 14
    assert value(metrics, "polymux_tokens_total", kind="completion", key="-") == 10
    assert value(metrics, "polymux_request_duration_seconds_count", **chat) == 4
    assert value(metrics, "polymux_time_to_first_token_seconds_count", model="m1") == 1
    assert value(metrics, "polymux_requests_in_flight") == 0
    assert value(metrics, "polymux_upstream_cooling_down", provider="fake") == 0
    assert value(metrics, "process_cpu_seconds_total") > 0  # prometheus-client's own collectors


async def test_a_request_refused_at_the_concurrency_limit_is_counted_with_its_id(
    upstream: FakeServer, tmp_path: Path
) -> None:
    upstream.script("POST", CHAT, stall(60))
    config = replace(fake_config(upstream), max_concurrent_requests=1)
    app = create_app(config, db_path=tmp_path / "g.db", key_refresh=0)
    held = asyncio.ensure_future(asgi_request(app, "POST", "/v1/chat/completions", HELLO))
    try:
        while not upstream.requests:  # the first request holds the only slot
            await asyncio.sleep(0.01)
        status, headers, _ = await asgi_request(
            app, "POST", "/v1/chat/completions", HELLO, headers=[("x-request-id", "over-1")]
        )
        assert (status, headers["x-request-id"]) == (503, "over-1")
        held.cancel()
        await asyncio.gather(held, return_exceptions=True)
        metrics = await scrape(app)
    finally:
        held.cancel()
        await app.aclose()
    # The refused one (no model read); the held one, cancelled, is a 503 too (its model,
    # never answered nor configured, is "other").
    assert value(metrics, "polymux_requests_total", status="503", model="-") == 1
    assert value(metrics, "polymux_requests_total", status="503", model=OTHER) == 1
    assert value(metrics, "polymux_errors_total", type="server_error") == 2


async def test_metrics_are_protected_and_never_show_a_key(keyed: Any) -> None:
    app, key = keyed
    status, _, _ = await asgi_request(app, "GET", "/metrics")
    assert status == 401
    bearer = [("Authorization", f"Bearer {key}")]
    status, _, _ = await asgi_request(app, "POST", "/v1/chat/completions", HELLO, headers=bearer)
    assert status == 200
    status, _, body = await asgi_request(app, "GET", "/metrics", headers=bearer)
    assert status == 200
    assert key not in body.decode() and key[:12] not in body.decode()
    metrics = samples(body.decode())
    assert value(metrics, "polymux_requests_total", key="alice", status="200") == 1


async def test_metric_labels_stay_bounded_whatever_callers_send(
    upstream: FakeServer, tmp_path: Path
) -> None:
    upstream.script("POST", CHAT, error(404, "no such model", code="model_not_found"))
    app = create_app(fake_config(upstream), db_path=tmp_path / "g.db", key_refresh=0)
    try:
        for i in range(30):
            body = {"model": f"made-up-{i}", "messages": [{"role": "user", "content": "x"}]}
            assert (await asgi_request(app, "POST", "/v1/chat/completions", body))[0] == 404
        status, _, _ = await asgi_request(app, "GET", "/v1/responses/resp_" + "a" * 40)
        assert status == 404
        metrics = await scrape(app)
    finally:
        await app.aclose()
    models = {
        dict(labels).get("model") for (name, labels) in metrics if name == "polymux_requests_total"
    }
    assert models == {OTHER, "-"}
    endpoints = {
        dict(labels)["endpoint"] for (name, labels) in metrics if name == "polymux_requests_total"
    }
    assert endpoints == {"/v1/chat/completions", "/v1/responses/*"}


def test_learnt_model_labels_are_capped() -> None:
    from polymux.routing.health import InMemoryHealthStore

    metrics = GatewayMetrics(["p"], ["alias-a"], InMemoryHealthStore())
    for i in range(250):
        metrics.observe("/v1/x", UsageRecord("/v1/x", 200, model=f"m{i}", provider="p"), None, 0.1)
    metrics.observe("/v1/x", UsageRecord("/v1/x", 200, model="alias-a", cost=0.25), "k", 0.1)
    metrics.observe("/v1/x", UsageRecord("/v1/x", 200, model="alias-a", cost=0.5), "k", 0.1)
    from prometheus_client import generate_latest

    metrics.flush()
    scraped = samples(generate_latest(metrics.registry).decode())
    models = {dict(ls)["model"] for (n, ls) in scraped if n == "polymux_requests_total"}
    assert len(models) == 202  # 200 learnt + the configured alias + "other"
    assert value(scraped, "polymux_requests_total", model=OTHER) == 50
    assert value(scraped, "polymux_cost_usd_total", model="alias-a", key="k") == 0.75


def test_model_labels_follow_what_is_learnt_on_repeated_requests() -> None:
    # Repeated requests reuse their series (found by the request's own names once those are
    # label values); what a name is labelled as still follows the rules: unknown and failed
    # is "other", answered once is learnt, and a caller's literal "-" is not the "-" series.
    from prometheus_client import generate_latest

    from polymux.routing.health import InMemoryHealthStore

    metrics = GatewayMetrics(["p"], ["alias-a"], InMemoryHealthStore())
    for status in (500, 500, 200, 200, 500, 500):
        metrics.observe("/v1/x", UsageRecord("/v1/x", status, model="new", provider="p"), "k", 0.1)
    for model in (None, None, "-", "-"):
        metrics.observe("/v1/x", UsageRecord("/v1/x", 500, model=model, provider="p"), "k", 0.1)
    metrics.flush()
    scraped = samples(generate_latest(metrics.registry).decode())
    assert value(scraped, "polymux_requests_total", model=OTHER, status="500") == 4
    assert value(scraped, "polymux_requests_total", model="new", status="200") == 2
    assert value(scraped, "polymux_requests_total", model="new", status="500") == 2
    assert value(scraped, "polymux_requests_total", model="-", status="500") == 2


def _exposition(metrics: GatewayMetrics) -> dict[Any, float]:
    """The gateway's own samples of a scrape, without the ``_created`` timestamps (when each
    series was made)."""
    from prometheus_client import generate_latest

    scraped = samples(generate_latest(metrics.registry).decode())
    return {
        (name, labels): v
        for (name, labels), v in scraped.items()
        if name.startswith("polymux_") and not name.endswith("_created")
    }


def test_folded_requests_scrape_as_if_each_was_observed_by_prometheus_client() -> None:
    # observe() only adds to plain numbers, and flush() folds them into prometheus-client's
    # children (a histogram through its per-bucket values): the scrape must read exactly as
    # if each request had been inc()-ed and observe()-d one by one, bucket edges included.
    from polymux.routing.health import InMemoryHealthStore

    folded = GatewayMetrics(["p"], ["m"], InMemoryHealthStore())
    direct = GatewayMetrics(["p"], ["m"], InMemoryHealthStore())
    latencies = [0.0, 0.05, 0.050001, 0.1, 0.3, 1.0, 2.5, 59.9, 300.0, 301.0, 1e9]
    for i, seconds in enumerate(latencies):
        status = (200, 200, 429, 499, 500)[i % 5]
        ttft = None if i % 3 == 0 else (0.0, 50.0, 100.0, 700.0, 75_000.0)[i % 5]
        record = UsageRecord(
            "/v1/chat/completions",
            status,
            model="m",
            provider="p",
            ttft_ms=ttft,
            prompt_tokens=i or None,
            completion_tokens=2 * i or None,
            cost=0.001 * i or None,
        )
        key = ("alice", None)[i % 2]
        folded.observe("/v1/chat/completions", record, key, seconds)
        if i == 4:
            folded.flush()  # a fold between requests: later ones add to what it gave
        # The same request through prometheus-client's own calls, one by one.
        labels = ("/v1/chat/completions", "m", "p")
        who = key or "-"
        direct.requests.labels(*labels, who, str(status)).inc()
        if status >= 400:
            kind = "client_closed" if status == 499 else error_type(status)
            direct.errors.labels(*labels, who, kind).inc()
        direct.latency.labels(*labels).observe(seconds)
        direct.ttft.labels(*labels)
        if ttft is not None:
            direct.ttft.labels(*labels).observe(ttft / 1000.0)
        for kind, tokens in (("prompt", i), ("completion", 2 * i)):
            direct.tokens.labels("m", "p", who, kind).inc(tokens)
        direct.cost.labels("m", "p", who).inc(0.001 * i)
    expected = _exposition(direct)
    assert _exposition(folded) != expected  # nothing folded since the 5th request
    # Sums of floats added in another order may differ in their last bit; counts may not.
    folded.flush()
    assert _exposition(folded) == pytest.approx(expected, rel=1e-15)
    folded.flush()  # nothing new: nothing added twice
    assert _exposition(folded) == pytest.approx(expected, rel=1e-15)


async def test_metrics_can_be_switched_off(upstream: FakeServer, tmp_path: Path) -> None:
    app = create_app(
        replace(fake_config(upstream), metrics=False), db_path=tmp_path / "g.db", key_refresh=0
    )
    try:
        assert app.metrics is None
        status, _, body = await asgi_request(app, "GET", "/metrics")
        assert status == 404 and orjson.loads(body)["error"]["code"] == "metrics_disabled"
        assert (await asgi_request(app, "POST", "/v1/chat/completions", HELLO))[0] == 200
    finally:
        await app.aclose()


# -- JSON request logs -------------------------------------------------------------------------
class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


async def test_json_logs_one_line_per_request_without_the_key(
    upstream: FakeServer, tmp_path: Path
) -> None:
    upstream.script("POST", CHAT, reply("hi"), error(500, "upstream broke"))
    with Store(tmp_path / "g.db") as store:
        key = store.create_key("alice")
    config = replace(fake_config(upstream), json_logs=True)
    app = create_app(config, db_path=tmp_path / "g.db", key_refresh=0)
    handler = _Lines()
    logger = logging.getLogger(LOGGER)
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    bearer = [("Authorization", f"Bearer {key}")]
    try:
        _, first, _ = await asgi_request(app, "POST", "/v1/chat/completions", HELLO, headers=bearer)
        _, second, _ = await asgi_request(
            app, "POST", "/v1/chat/completions", HELLO, headers=bearer
        )
        await asgi_request(app, "GET", "/health")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        await app.aclose()
    assert len(handler.lines) == 2
    assert all(key not in line for line in handler.lines)
    ok, failed = (orjson.loads(line) for line in handler.lines)
    assert ok["request_id"] == first["x-request-id"]
    assert (ok["status"], ok["key"], ok["model"], ok["provider"]) == (200, "alice", "m1", "fake")
    assert ok["method"] == "POST" and ok["path"] == "/v1/chat/completions"
    assert ok["latency_ms"] > 0 and ok["client"] == "127.0.0.1"
    assert failed["request_id"] == second["x-request-id"]
    assert failed["status"] == 502 and "upstream broke" in failed["error"]


async def test_a_shared_health_store_that_is_away_does_not_break_scrapes_or_readiness() -> None:
    from polymux.routing.health import InMemoryHealthStore
    from polymux.server.readiness import Readiness, upstreams_check

    class Away(InMemoryHealthStore):
        async def cooling_for(self, provider: str) -> float:
            raise ConnectionError("redis went away")

    metrics = GatewayMetrics(["p"], [], Away())
    body, _ = await metrics.exposition(3)
    scraped = samples(body.decode())
    assert value(scraped, "polymux_requests_in_flight") == 3
    assert not any(n == "polymux_upstream_cooling_down" for n, _ in scraped)
    readiness = Readiness()
    readiness.add("upstreams", upstreams_check(Away(), ["p"]))
    assert await readiness.run() == {"upstreams": "failed (ConnectionError)"}
