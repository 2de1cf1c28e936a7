"""``client.models.list()``: what the providers report, merged with the registry.

Each provider's own ids come first; then, for every registry model whose id for that
provider was among them, the canonical name (so ``llama-3.3-70b`` is listed for Groq next
to ``llama-3.3-70b-versatile``, and works with it). A name is never listed for a provider
that did not report it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from ..errors import AllProvidersFailedError
from ..providers.base import Provider
from ..types.request import ModelsRequest
from .registry import ModelRegistry
from .usable import unusable_reason

__all__ = ["list_models", "registry_providers"]

log = logging.getLogger("polymux.routing")


def registry_providers(
    registry: ModelRegistry, named: dict[str, Provider | None]
) -> list[Provider]:
    """Every provider the registry names that is installed and usable here, in first-seen
    order. ``named`` maps names to instances (None: not installed)."""
    out: list[Provider] = []
    for name in dict.fromkeys(p for entry in registry for p, _ in entry.routes):
        provider = named.get(name)
        if provider is not None and unusable_reason(provider) is None:
            out.append(provider)
    return out


async def list_models(
    registry: ModelRegistry,
    providers: Sequence[Provider],
    request: ModelsRequest,
    *,
    skip_failures: bool,
) -> list[tuple[Provider, str]]:
    """(provider, model id) pairs, without duplicates. A provider whose list fails is logged
    and left out while another one answered; when none did, the failure is raised (unless
    ``skip_failures``): one provider's own error, or ``AllProvidersFailedError``."""
    results = await asyncio.gather(
        *(p.list_models(request) for p in providers), return_exceptions=True
    )
    failures: list[tuple[str, BaseException]] = []
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, Exception):
            raise result  # cancellation is never skipped
    pairs: dict[tuple[str, str], Provider] = {}
    for provider, ids in zip(providers, results):
        if isinstance(ids, BaseException):
            log.debug("models of %s left out: %s: %s", provider.name, type(ids).__name__, ids)
            failures.append((provider.name, ids))
            continue
        reported = set(ids)
        for model_id in ids:
            pairs.setdefault((provider.name, model_id), provider)
        for entry in registry.serving(provider.name):
            if entry.model_for(provider.name) in reported:
                pairs.setdefault((provider.name, entry.name), provider)
    if failures and len(failures) == len(providers) and not skip_failures:
        if len(failures) == 1:
            raise failures[0][1]
        raise AllProvidersFailedError(failures)
    return [(provider, model_id) for (_, model_id), provider in pairs.items()]
