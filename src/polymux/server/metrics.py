"""``GET /metrics``: the gateway's counters in Prometheus' text format (prometheus-client).

What is counted, per API request (every route but the public ones and /metrics itself):

    polymux_requests_total{endpoint, model, provider, key, status}
    polymux_errors_total{endpoint, model, provider, key, type}     type: the error's OpenAI type
    polymux_request_duration_seconds{endpoint, model, provider}    histogram
    polymux_time_to_first_token_seconds{endpoint, model, provider} histogram (streams)
    polymux_tokens_total{model, provider, key, kind}               kind: prompt | completion
    polymux_cost_usd_total{model, provider, key}                   from the usage row's cost
    polymux_requests_in_flight                                     sampled (see below)
    polymux_upstream_cooling_down{provider}                        1 while its breaker is open
    polymux_upstream_cooldown_seconds{provider}                    seconds left (0: available)

Labels come only from bounded sets, never from raw request text: ``key`` is a key's name (never
the key), ``provider`` a configured provider, ``endpoint`` a route of the gateway, ``model``
a name the config routes (alias, declared model) or one an upstream answered successfully,
up to ``MAX_LABELS`` of them; anything else is ``other``. A caller inventing model names
cannot grow the series set.

Cost per request: one dict lookup for the request's label tuple and a few additions to plain
ints and floats kept for it (a request, its latency's bucket and sum, tokens, cost). They are
folded into prometheus-client's metrics (whose every ``inc`` and ``observe`` takes a lock and,
with several workers, writes a file) when something reads them: before each scrape, on each
worker's sampler tick and when the gateway stops. In-flight requests and cooldowns are not
counted per request but sampled: at each scrape, and, with several workers, once a second by
each.

Several worker processes (``--workers``): the launcher calls ``setup_multiprocess`` before
it starts them, so each writes its values to files in one folder (prometheus-client's
multiprocess mode) and a scrape of any worker reads them all. A worker folds what its
requests added every ``SAMPLE_INTERVAL`` (1 s) and before it answers a scrape itself, so a
scrape of any worker counts its own requests at once and another worker's within about a
second of their end (longer only while that worker's event loop is too busy to run its
tick); a worker that stops folds the rest before it exits (one killed outright loses what
it had not folded: its last second of counts at most).
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError
from .asgi import send_bytes
from .errormap import GatewayHTTPError, error_type

if TYPE_CHECKING:
    from ..routing.health import HealthStore
    from .app import Call, Gateway
    from .store import UsageRecord

__all__ = [
    "MAX_LABELS",
    "MULTIPROC_ENV",
    "GatewayMetrics",
    "handle",
    "setup_multiprocess",
    "worker_exited",
]

log = logging.getLogger("polymux.server")

#: prometheus-client's switch to multiprocess mode, read when it is first imported.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: Distinct model (and provider) label values learnt from answers, beyond the configured ones.
MAX_LABELS = 200
#: Seconds between the samples each worker writes of its in-flight count and cooldowns, and
#: between its folds of what its requests added (see the module docstring).
SAMPLE_INTERVAL = 1.0
OTHER = "other"
NONE = "-"
#: nginx's status for a client that went away before its answer was complete.
_CLIENT_CLOSED = 499

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
_TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


def setup_multiprocess(directory: str | os.PathLike[str] | None = None) -> Path:
    """Prepare metrics for several worker processes; call it in the launcher before any
    worker starts (the workers inherit the environment variable it sets).

    ``directory``: where the workers write their values (made if missing, mode 0700); files a
    previous run left there are removed, or its counts would be added to this run's. None: a
    new temporary folder. Returns the folder.
    """
    path = Path(directory) if directory is not None else Path(tempfile.mkdtemp("-polymux-metrics"))
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(path)
    return path


def worker_exited(pid: int) -> None:
    """Tell the metrics that worker ``pid`` is gone (the launcher calls it when a worker
    exits): its in-flight count and cooldown view stop counting; its counters stay."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def _multiprocess_dir() -> str | None:
    directory = os.environ.get(MULTIPROC_ENV)
    if not directory:
        return None
    from prometheus_client import values

    if not getattr(values.ValueClass, "_multiprocess", False):
        raise ConfigurationError(
            f"{MULTIPROC_ENV} was set after prometheus_client was imported in this process: "
            "call polymux.server.metrics.setup_multiprocess() before starting the workers"
        )
    return directory


class _Labels:
    """A bounded set of label values: the configured ones, then up to ``cap`` more learnt
    from successful answers (an upstream knew the name), then ``other``."""

    def __init__(self, known: Iterable[str], cap: int = MAX_LABELS) -> None:
        self._known = set(known)
        self._room = cap

    def __call__(self, value: str | None, answered: bool) -> str:
        if not value:
            return NONE
        if value in self._known:
            return value
        if answered and self._room > 0 and len(value) <= 200:
            self._known.add(value)
            self._room -= 1
            return value
        return OTHER


@dataclass(slots=True)
class _Children:
    """prometheus-client's children of one (endpoint, model, provider, key, status)."""

    requests: Any
    errors: Any | None
    latency: Any
    ttft: Any
    prompt: Any
    completion: Any
    cost: Any


def _no_counts(bounds: Sequence[float]) -> list[int]:
    return [0] * (len(bounds) + 1)  # one per bound, then +Inf's


def _fold_histogram(child: Any, counts: list[int], total: float) -> None:
    """Add observations, given as counts per bucket and their sum, to a histogram child.

    prometheus-client's public API adds one observation at a time; its child keeps a value
    per bucket (``_buckets``, each counting the observations whose first bound it is) and
    their sum (``_sum``), and ``observe`` adds to those. tests/test_server_ops.py holds a
    fold's exposition equal to the same values observed one by one."""
    buckets = child._buckets
    for i, count in enumerate(counts):
        if count:
            buckets[i].inc(count)
    child._sum.inc(total)


@dataclass(slots=True, eq=False)
class _Series:
    """One (endpoint, model, provider, key, status): its children, made once, and what its
    requests added since the last fold (plain numbers: nothing locked, nothing written)."""

    children: _Children
    requests: int = 0
    latency_counts: list[int] = field(default_factory=lambda: _no_counts(_LATENCY_BUCKETS))
    latency_sum: float = 0.0
    ttft_counts: list[int] = field(default_factory=lambda: _no_counts(_TTFT_BUCKETS))
    ttft_sum: float = 0.0
    timed: bool = False  # a time to first token was added
    prompt: int = 0
    completion: int = 0
    cost: float = 0.0

    def fold(self) -> None:
        """Add what was counted to the children, and start counting again from zero."""
        children = self.children
        children.requests.inc(self.requests)
        if children.errors is not None:
            children.errors.inc(self.requests)  # an error status: every request is an error
        _fold_histogram(children.latency, self.latency_counts, self.latency_sum)
        if self.timed:
            _fold_histogram(children.ttft, self.ttft_counts, self.ttft_sum)
            self.ttft_counts, self.ttft_sum, self.timed = _no_counts(_TTFT_BUCKETS), 0.0, False
        if self.prompt:
            children.prompt.inc(self.prompt)
        if self.completion:
            children.completion.inc(self.completion)
        if self.cost:
            children.cost.inc(self.cost)
        self.requests, self.prompt, self.completion, self.cost = 0, 0, 0, 0.0
        self.latency_counts, self.latency_sum = _no_counts(_LATENCY_BUCKETS), 0.0


class GatewayMetrics:
    """The gateway's metrics, in a registry of their own (one per gateway app)."""

    def __init__(
        self, providers: Iterable[str], models: Iterable[str], health: HealthStore
    ) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.multiprocess_dir = _multiprocess_dir()
        self.registry = registry = CollectorRegistry()
        if self.multiprocess_dir is None:
            # Process and runtime figures: meaningful for one process only.
            from prometheus_client import GC_COLLECTOR, PLATFORM_COLLECTOR, PROCESS_COLLECTOR

            for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
                registry.register(collector)
        self._providers = tuple(providers)
        self._health = health
        self._model_label = _Labels(models)
        self._provider_label = _Labels(self._providers)
        self._series: dict[tuple[str, str, str, str, int], _Series] = {}
        #: The same series by the request's own model and provider names, when those are
        #: the label values (most requests): found without computing the labels.
        self._known_series: dict[tuple[str, str | None, str | None, str, int], _Series] = {}
        route = ("endpoint", "model", "provider")
        spend = ("model", "provider", "key")
        self.requests = Counter(
            "polymux_requests",
            "API requests answered",
            [*route, "key", "status"],
            registry=registry,
        )
        self.errors = Counter(
            "polymux_errors",
            "API requests answered with an error, by the error's type",
            [*route, "key", "type"],
            registry=registry,
        )
        self.latency = Histogram(
            "polymux_request_duration_seconds",
            "Time from a request's arrival to the end of its answer",
            route,
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.ttft = Histogram(
            "polymux_time_to_first_token_seconds",
            "Time from a streamed request's arrival to its first event",
            route,
            buckets=_TTFT_BUCKETS,
            registry=registry,
        )
        self.tokens = Counter(
            "polymux_tokens", "Tokens the upstreams counted", [*spend, "kind"], registry=registry
        )
        self.cost = Counter(
            "polymux_cost_usd", "Cost of the answers in USD (price table)", spend, registry=registry
        )
        self.in_flight = Gauge(
            "polymux_requests_in_flight",
            "Requests being handled",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.cooling = Gauge(
            "polymux_upstream_cooling_down",
            "1 while the upstream's circuit breaker keeps requests away from it",
            ["provider"],
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.cooldown = Gauge(
            "polymux_upstream_cooldown_seconds",
            "Seconds until the upstream is tried again (0: available)",
            ["provider"],
            registry=registry,
            multiprocess_mode="livemax",
        )
        self._sampler: asyncio.Task[None] | None = None

    # -- per request ---------------------------------------------------------------------------
    def observe(self, endpoint: str, record: UsageRecord, key: str | None, seconds: float) -> None:
        """Count one answered request (its usage record holds the rest)."""
        status = record.status
        model, provider, key = record.model, record.provider, key or NONE
        series = self._known_series.get((endpoint, model, provider, key, status))
        if series is None:
            series = self._series_for(endpoint, model, provider, key, status)
        # Only added up here; ``flush`` hands the sums to prometheus-client. A histogram's
        # bucket is the first whose bound is >= the value (its ``le``), as in its ``observe``.
        series.requests += 1
        series.latency_counts[bisect_left(_LATENCY_BUCKETS, seconds)] += 1
        series.latency_sum += seconds
        ttft_ms = record.ttft_ms
        if ttft_ms is not None:
            ttft = ttft_ms / 1000.0
            series.ttft_counts[bisect_left(_TTFT_BUCKETS, ttft)] += 1
            series.ttft_sum += ttft
            series.timed = True
        if record.prompt_tokens:
            series.prompt += record.prompt_tokens
        if record.completion_tokens:
            series.completion += record.completion_tokens
        if record.cost:
            series.cost += record.cost

    def flush(self) -> None:
        """Fold what requests added since the last call into prometheus-client's metrics
        (in multiprocess mode: into this worker's files). Called on the event loop's thread,
        the one ``observe`` runs on, so no addition is lost between the read and the reset."""
        for series in self._series.values():
            if series.requests:
                series.fold()

    def _series_for(
        self, endpoint: str, model: str | None, provider: str | None, key: str, status: int
    ) -> _Series:
        answered = status < 400
        labels = (
            endpoint,
            self._model_label(model, answered),
            self._provider_label(provider, answered),
            key,
            status,
        )
        series = self._series.get(labels)
        if series is None:
            series = self._series[labels] = self._new_series(labels)
        if labels[1] == model and labels[2] == provider:
            # Names already label values stay so (the sets only grow): the next request with
            # them skips the two set lookups. As bounded as the labels themselves.
            self._known_series[(endpoint, model, provider, key, status)] = series
        return series

    def _new_series(self, labels: tuple[str, str, str, str, int]) -> _Series:
        endpoint, model, provider, key, status = labels
        kind = "client_closed" if status == _CLIENT_CLOSED else error_type(status)
        children = _Children(
            requests=self.requests.labels(endpoint, model, provider, key, str(status)),
            errors=self.errors.labels(endpoint, model, provider, key, kind)
            if status >= 400
            else None,
            latency=self.latency.labels(endpoint, model, provider),
            ttft=self.ttft.labels(endpoint, model, provider),
            prompt=self.tokens.labels(model, provider, key, "prompt"),
            completion=self.tokens.labels(model, provider, key, "completion"),
            cost=self.cost.labels(model, provider, key),
        )
        return _Series(children)

    # -- sampled state -------------------------------------------------------------------------
    async def sample(self, in_flight: int) -> None:
        """Write this process's in-flight count and its view of the upstreams' cooldowns."""
        self.in_flight.set(in_flight)
        for name in self._providers:
            try:
                seconds = await self._health.cooling_for(name)
            except Exception as exc:  # a shared health store that is away: keep the last value
                log.debug("metrics: no cooldown for %s: %s", name, exc)
                continue
            self.cooling.labels(name).set(1 if seconds > 0 else 0)
            self.cooldown.labels(name).set(round(seconds, 3))

    def start_sampling(self, in_flight: Callable[[], int]) -> None:
        """With several workers, sample every ``SAMPLE_INTERVAL`` seconds (a scrape reaches
        one worker only). ``in_flight``: a callable giving the current count."""
        if self.multiprocess_dir is not None and self._sampler is None:
            self._sampler = asyncio.ensure_future(self._sample_forever(in_flight))

    async def _sample_forever(self, in_flight: Callable[[], int]) -> None:
        while True:
            self.flush()
            await self.sample(in_flight())
            await asyncio.sleep(SAMPLE_INTERVAL)

    async def stop_sampling(self) -> None:
        """Stop the sampler and fold what is left (the gateway calls it when it stops, after
        the requests in flight have ended)."""
        sampler, self._sampler = self._sampler, None
        if sampler is not None:
            sampler.cancel()
            await asyncio.gather(sampler, return_exceptions=True)
        self.flush()

    # -- scrape --------------------------------------------------------------------------------
    async def exposition(self, in_flight: int) -> tuple[bytes, str]:
        """(body, content type) of a scrape: every worker's values in multiprocess mode."""
        from prometheus_client import CONTENT_TYPE_LATEST

        self.flush()
        await self.sample(in_flight)
        return await asyncio.to_thread(self._render), CONTENT_TYPE_LATEST

    def _render(self) -> bytes:
        from prometheus_client import CollectorRegistry, generate_latest

        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
        return generate_latest(registry)


async def handle(gateway: Gateway, call: Call) -> None:
    """``GET /metrics``."""
    metrics = gateway.metrics
    if metrics is None:
        raise GatewayHTTPError(
            404,
            "metrics are off: set [server] metrics = true and install 'polymux[server]'",
            code="metrics_disabled",
        )
    # The scrape itself is one of the requests in flight: not counted.
    body, content_type = await metrics.exposition(gateway.in_flight - 1)
    await send_bytes(call.send, 200, body, [(b"content-type", content_type.encode())])
