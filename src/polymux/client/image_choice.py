"""Which image model each image provider is asked for.

The rule (README, "Coming from g4f"): an image provider asked for a model it cannot make
images with (``provider.serves_image_model``: Gemini for ``dall-e-3``) answers with its own
default image model instead of failing; ``response.model`` names the model used, and a warning
on the ``polymux.client`` logger says what was replaced. In a list of image providers, those
that serve the requested model are tried first. Chat models are never replaced.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from ..providers.base import Provider

__all__ = ["image_model_for", "serving_first"]

log = logging.getLogger("polymux.client")


def image_model_for(provider: Provider, model: str, *, edit: bool = False) -> str:
    """The image model id to send to ``provider`` for a request naming ``model``; an edit
    (input images given) needs one of the provider's ``image_edit_models`` when it lists
    them."""
    editors = provider.image_edit_models if edit else ()
    if editors and model not in editors:
        chosen = editors[0]
        if model:
            log.warning(
                "%s does not edit images with %r; answering with its image model %r instead",
                provider.name,
                model,
                chosen,
            )
        return chosen
    if model and not provider.serves_image_model(model):
        chosen = provider.resolve_image_model("")
        log.warning(
            "%s does not make images with %r; answering with its image model %r instead",
            provider.name,
            model,
            chosen,
        )
        return chosen
    return provider.resolve_image_model(model)


def serving_first(providers: Sequence[Provider], model: str) -> list[Provider]:
    """The providers in their order, those that serve ``model`` first."""
    if not model:
        return list(providers)
    serving = [p for p in providers if p.serves_image_model(model)]
    return serving + [p for p in providers if p not in serving]


#: Built-in providers that make images, in the order they are tried for a model they list.
_IMAGE_PROVIDERS = ("openai", "gemini", "pollinations")


def builtin_image_providers(model: str) -> list[str]:
    """Names of the built-in image providers that list ``model`` among their image models:
    who answers ``images.generate(model=...)`` on a client configured with no provider (g4f
    picks an image provider by model name too). Those usable here (key set, or keyless) first."""
    from ..providers.registry import load_provider_class

    listed = []
    for name in _IMAGE_PROVIDERS:
        provider = load_provider_class(name)()
        if model.lower() in (m.lower() for m in provider.image_models):
            listed.append((not provider.is_configured, name))
    return [name for _, name in sorted(listed)]
