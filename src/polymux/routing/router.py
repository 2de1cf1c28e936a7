"""The router: which providers answer a chat call, in what order, under which limits.

One ``Router`` per client holds the model registry, the providers' health (cooldowns), the
per-provider concurrency limits and the default ``RoutingOptions``. ``select`` returns the
provider that started answering, as a ``Selection`` the client folds; ``first`` is the one
fallback loop under it, which image generation uses too.

Order of a call: the providers the caller gave (``provider=``, the client's), else those the
registry lists for the model that are usable here; shuffled if asked; when there is more
than one, providers cooling down are skipped (if all are, the call fails at once with
``AllProvidersFailedError`` of ``ProviderCooldownError``); each is tried until one delivers
content. The call's total deadline (``timeout.total``) spans every attempt and retry.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import replace
from functools import partial
from typing import Any, TypeVar

from ..errors import (
    AllProvidersFailedError,
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    ConfigurationError,
    NoProviderForModelError,
    ProviderCooldownError,
)
from ..providers.base import Provider
from ..types.request import ChatRequest, ModelsRequest
from .fallback import Selection, completed, is_retryable, start_stream
from .health import HealthStore, InMemoryHealthStore
from .hedging import race
from .limits import ConcurrencyLimits, LimitsSpec
from .listing import list_models, registry_providers
from .policy import DEFAULT_ROUTING, RoutingOptions
from .registry import ModelRegistry, ModelsSource
from .usable import unusable_reason

__all__ = ["Router"]

log = logging.getLogger("polymux.routing")
T = TypeVar("T")

_NOT_INSTALLED = "not available in this installation (no provider registered under this name)"
#: The slot of a provider without a concurrency limit: one shared ``nullcontext`` (it holds
#: no state), not a new one an upstream request.
_NO_LIMIT: AbstractAsyncContextManager[object] = nullcontext()


class Router:
    def __init__(
        self,
        *,
        models: ModelsSource = None,
        health: HealthStore | None = None,
        concurrency: LimitsSpec = None,
        options: RoutingOptions | None = None,
    ) -> None:
        self.registry = ModelRegistry.from_source(models)
        self.health: HealthStore = health if health is not None else InMemoryHealthStore()
        self.limits = (
            concurrency
            if isinstance(concurrency, ConcurrencyLimits)
            else ConcurrencyLimits(concurrency)
        )
        self._limited = bool(self.limits)  # fixed at construction; read on every attempt
        self.options = options or DEFAULT_ROUTING
        self._named: dict[str, Provider | None] = {}

    # -- which providers -----------------------------------------------------------------------
    def provider_named(self, name: str) -> Provider | None:
        """The provider registered under ``name`` (one instance per router), or None when
        nothing is registered under it: others may add it later, so this is no error."""
        key = name.lower()
        if key not in self._named:
            from ..providers.registry import resolve_one

            try:
                self._named[key] = resolve_one(key)
            except (ConfigurationError, ImportError) as exc:
                log.debug("registry names provider %r, which cannot be loaded: %s", key, exc)
                self._named[key] = None
        return self._named[key]

    def providers_for_model(self, model: str) -> list[Provider]:
        """The usable providers the registry lists for ``model``, in registry order."""
        entry = self.registry.lookup(model)
        if entry is None:
            raise NoProviderForModelError(
                f"model {model!r} is not in the model registry, so polymux does not know who "
                "serves it. Pass provider=... (any provider accepts any model name), or add it: "
                f"AsyncClient(models={{{model!r}: {{'providers': {{'<provider>': '<its id>'}}}}}})",
                model=model,
            )
        usable: list[Provider] = []
        needs: dict[str, str] = {}
        for name, _ in entry.routes:
            provider = self.provider_named(name)
            reason = _NOT_INSTALLED if provider is None else unusable_reason(provider)
            if provider is not None and reason is None:
                usable.append(provider)
            else:
                needs[name] = reason or _NOT_INSTALLED
        if needs:
            log.debug(
                "model %s: skipping %s",
                entry.name,
                "; ".join(f"{k}: {v}" for k, v in needs.items()),
            )
        if not usable:
            listed = "\n".join(f"  {name}: {need}" for name, need in needs.items())
            raise NoProviderForModelError(
                f"no usable provider serves model {model!r}"
                + (f" ({entry.name})" if entry.name != model else "")
                + f". Providers that serve it and what each needs:\n{listed}",
                model=model,
                candidates=needs,
            )
        return usable

    def model_for(self, provider: Provider, model: str) -> str:
        """The id this provider knows ``model`` by: the caller's when it is one of the
        provider's own ids (an alias such as ``claude-sonnet-4-0`` moves with new releases:
        the registry never pins it), else the registry's, else the caller's."""
        if model and model not in provider.models:
            entry = self.registry.lookup(model)
            if entry is not None:
                mapped = entry.model_for(provider.name)
                if mapped:
                    return mapped
        return provider.resolve_model(model)

    async def list_models(
        self, providers: Sequence[Provider] | None, request: ModelsRequest
    ) -> list[tuple[Provider, str]]:
        """What ``providers`` report, merged with the registry (see listing.py). None: every
        usable provider the registry names; then one failing provider is left out."""
        if providers is not None:
            return await list_models(self.registry, providers, request, skip_failures=False)
        for entry in self.registry:
            for name, _ in entry.routes:
                self.provider_named(name)
        chosen = registry_providers(self.registry, self._named)
        return await list_models(self.registry, chosen, request, skip_failures=True)

    # -- one call ------------------------------------------------------------------------------
    def select(
        self,
        providers: Sequence[Provider],
        request: ChatRequest,
        options: RoutingOptions | None = None,
    ) -> Coroutine[Any, Any, tuple[Provider, Selection]]:
        """The provider that started answering a chat call, with its answer so far (a
        ``Selection``); the caller reads it inside ``async with selection:``, which reports how
        it ended. Errors as ``first``'s."""
        require_content = len(providers) > 1  # alone, an empty answer is the answer

        def open_answer(provider: Provider, deadline: float | None) -> Awaitable[Selection]:
            return self._open(
                provider, self.request_for(provider, request, deadline), require_content
            )

        return self.first(
            providers,
            open_answer,
            total=request.options.timeout.total,
            options=options,
            discard=self._discard,
        )

    # ``select`` and ``first`` hand back the coroutine that does the work rather than awaiting
    # it in a frame of their own: every resumption of a waiting call passes through each
    # frame on its stack, a few times per request.
    def first(
        self,
        providers: Sequence[Provider],
        attempt: Callable[[Provider, float | None], Awaitable[T]],
        *,
        total: float | None,
        options: RoutingOptions | None = None,
        discard: Callable[[T], Awaitable[None]] | None = None,
    ) -> Coroutine[Any, Any, tuple[Provider, T]]:
        """The one fallback loop, for any operation (chat, images, and what comes next):
        ``attempt(provider, deadline)`` on each provider in order until one succeeds, under
        the routing options (shuffle, hedging), the providers' health and the call's total
        deadline. ``deadline`` is None for the first attempt (it has the whole budget), else
        the loop time by which a later attempt must end.

        The provider that succeeded is returned with its result; its health verdict is the
        caller's to give (``settle``) once the result has been used: an answer that breaks
        off later is still the provider's failure. Failed attempts are recorded here. One
        provider: its own error. Several: ``AllProvidersFailedError`` when all fail, or the
        first error that another provider would not fix (a 400, say). ``discard`` closes a
        hedged attempt that succeeded but lost the race."""
        options = options or self.options
        order = providers  # copied only to shuffle: the caller's list is left as it is
        if options.shuffle and len(order) > 1:
            order = list(order)
            random.shuffle(order)
        multi = len(order) > 1
        errors: list[tuple[str, BaseException]] = []
        # No deadline to keep here when there is none, or when the only provider's transport
        # keeps it for the whole call already (no second timer for the same limit).
        bounded = total is not None and (multi or not order[0].deadline_in_transport)
        deadline = asyncio.get_running_loop().time() + total if bounded else None  # type: ignore[operator]
        work: Coroutine[Any, Any, tuple[Provider, T]]
        if multi and options.hedge_after is not None:
            work = self._hedged(order, attempt, deadline, options, errors, discard)
        else:
            work = self._in_order(order, attempt, deadline, options, errors)
        if not bounded or total is None:
            return work
        return self._bounded(work, total, errors)

    async def _bounded(
        self,
        work: Coroutine[Any, Any, tuple[Provider, T]],
        total: float,
        errors: list[tuple[str, BaseException]],
    ) -> tuple[Provider, T]:
        """``work`` within the call's total deadline, which ends it with ``APITimeoutError``."""
        try:
            return await _within(work, total)
        except _Expired:
            cause = AllProvidersFailedError(errors) if errors else None
            raise _deadline_error(total, errors) from cause
        except AllProvidersFailedError as exc:
            # The transport may notice the shared deadline a moment before we do.
            if errors and _spent(errors[-1][1]):
                raise _deadline_error(total, errors) from exc
            raise

    async def _in_order(
        self,
        order: Sequence[Provider],
        attempt: Callable[[Provider, float | None], Awaitable[T]],
        deadline: float | None,
        options: RoutingOptions,
        errors: list[tuple[str, BaseException]],
    ) -> tuple[Provider, T]:
        multi = len(order) > 1
        for i, provider in enumerate(order):
            try:
                result = await self._try(provider, attempt, deadline if i else None, multi)
            except Exception as exc:
                if not multi or not is_retryable(exc, options.fallback_on_status):
                    if errors:
                        log.debug("%s failed for good after: %s", provider.name, errors)
                    raise
                log.debug("left %s: %s: %s", provider.name, type(exc).__name__, exc)
                errors.append((provider.name, exc))
                if _spent(exc):  # the call's whole budget is gone: nobody else gets a turn
                    break
            else:
                if errors:
                    log.debug("%s answered after: %s", provider.name, _described(errors))
                return provider, result
        raise AllProvidersFailedError(errors)

    async def _hedged(
        self,
        order: Sequence[Provider],
        attempt: Callable[[Provider, float | None], Awaitable[T]],
        deadline: float | None,
        options: RoutingOptions,
        errors: list[tuple[str, BaseException]],
        discard: Callable[[T], Awaitable[None]] | None,
    ) -> tuple[Provider, T]:
        attempts = [
            (p.name, partial(self._try, p, attempt, deadline if i else None, True))
            for i, p in enumerate(order)
        ]
        index, result = await race(
            attempts,
            options.hedge_after or 0.0,
            lambda exc: is_retryable(exc, options.fallback_on_status),
            errors,
            discard,
        )
        if errors:
            log.debug("%s answered after: %s", order[index].name, _described(errors))
        return order[index], result

    async def _try(
        self,
        provider: Provider,
        attempt: Callable[[Provider, float | None], Awaitable[T]],
        deadline: float | None,
        multi: bool,
    ) -> T:
        """One attempt: skipped while the provider cools down (unless it is the only one);
        a failure is recorded, a cancellation (a hedging loser, the deadline) gives none."""
        name = provider.name
        if multi:
            wait = await self.health.wait_time(name)
            if wait > 0:
                raise ProviderCooldownError(name, wait)
        try:
            return await attempt(provider, deadline)
        except Exception as exc:
            await self._record_failure(name, exc)
            raise
        except BaseException:
            await self.health.release(name)
            raise

    async def _open(self, provider: Provider, req: ChatRequest, require_content: bool) -> Selection:
        """A chat answer until its first content (or the whole answer), holding one of the
        provider's concurrency slots until the selection is closed."""
        sem = self.limits.semaphore(provider.name) if self._limited else None
        if sem is not None:
            await sem.acquire()
        try:
            if not req.stream and provider.has_native_completion:
                selection = completed(provider, await provider.complete_chat(req), require_content)
            else:
                selection = await start_stream(provider, req, require_content)
        except BaseException:
            if sem is not None:
                sem.release()
            raise
        if sem is not None:
            selection.on_close = sem.release
        selection.settle = self.settle
        return selection

    async def _discard(self, selection: Selection) -> None:
        """A hedged answer that lost the race: closed, with no verdict on its provider."""
        try:
            await selection.aclose()
        finally:
            await self.health.release(selection.provider.name)

    def slot(self, provider: Provider) -> AbstractAsyncContextManager[object]:
        """One of the provider's concurrency slots, for one upstream request."""
        sem = self.limits.semaphore(provider.name) if self._limited else None
        return sem if sem is not None else _NO_LIMIT

    def request_for(
        self, provider: Provider, request: ChatRequest, deadline: float | None
    ) -> ChatRequest:
        model = self.model_for(provider, request.model)
        # deadline None: the first attempt, which has the whole budget (timeout.total) anyway.
        if deadline is None:
            return request if model == request.model else replace(request, model=model)
        # What is left of the call's budget bounds this attempt and its transport retries.
        left = max(0.001, deadline - asyncio.get_running_loop().time())
        timeout = replace(request.options.timeout, total=left)
        return replace(request, model=model, options=replace(request.options, timeout=timeout))

    def settle(self, name: str, error: BaseException | None = None) -> Awaitable[None]:
        """The health verdict on an answer ``select`` started, once it ended: None when it
        ended well; else its error, which counts as it would before any content (a stream
        cut mid-answer is the provider's failure); a cancellation or the caller closing the
        stream early gives no verdict."""
        if error is None:
            return self.health.record_success(name)
        if isinstance(error, Exception):
            return self._record_failure(name, error)
        return self.health.release(name)

    async def _record_failure(self, name: str, exc: BaseException) -> None:
        if isinstance(exc, APIStatusError) and exc.status_code == 429:
            await self.health.record_failure(name, rate_limited=True, retry_after=exc.retry_after)
        elif _hurts_health(exc):
            await self.health.record_failure(name)
        else:  # the request's fault or ours, not the provider's
            await self.health.release(name)


def _described(errors: list[tuple[str, BaseException]]) -> str:
    return "; ".join(f"{n}: {type(e).__name__}: {e}" for n, e in errors)


def _spent(exc: BaseException) -> bool:
    return isinstance(exc, APITimeoutError) and exc.limit == "total"


def _deadline_error(
    total: float | None, errors: list[tuple[str, BaseException]]
) -> APITimeoutError:
    tried = ", ".join(f"{n} ({type(e).__name__})" for n, e in errors) or "none finished"
    return APITimeoutError(
        f"the call's total time limit of {total}s passed; providers left: {tried}",
        limit="total",
        seconds=total,
    )


def _hurts_health(exc: BaseException) -> bool:
    if isinstance(exc, APIStatusError):
        return exc.status_code in (408, 409) or exc.status_code >= 500
    return isinstance(exc, (APIConnectionError, APIResponseValidationError))


class _Expired(Exception):
    pass


if sys.version_info >= (3, 11):

    async def _within(work: Awaitable[T], seconds: float | None) -> T:
        cm = asyncio.timeout(seconds)
        try:
            async with cm:
                return await work
        except TimeoutError:
            if cm.expired():
                raise _Expired from None
            raise

else:  # pragma: no cover - Python 3.10

    async def _within(work: Awaitable[T], seconds: float | None) -> T:
        if seconds is None:
            return await work
        try:
            return await asyncio.wait_for(work, max(0.0, seconds))
        except asyncio.TimeoutError:
            raise _Expired from None
