"""What a call cost: a price table as data, and the cost of one usage record.

The shipped table (prices.json beside this module) holds list prices of common models; the
config's ``[prices]`` table adds entries or replaces them by name::

    [prices."gpt-4o-mini"]          # a model name: its price whichever provider serves it
    input = 0.15                    # USD per million input tokens
    cached_input = 0.075            # USD per million input tokens read from the prompt cache
    output = 0.6                    # USD per million output tokens
    [prices."work/llama-3.1-8b"]    # provider/model: this provider's price only
    input = 0.05
    output = 0.08
    [prices."dall-e-3"]
    image = 0.04                    # USD per image
    [prices."whisper-1"]
    audio_second = 0.0001           # USD per second of audio
    [prices."tts-1"]
    characters = 15.0               # USD per million characters spoken

A record is priced by the model name the caller asked for (with the provider that answered
tried first); a model with no entry costs None (unknown), not 0, so ``polymux usage`` and
budgets can tell "free" from "unpriced". An alias is priced under its own name, if given one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from importlib import resources
from typing import Any

from ..errors import ConfigurationError
from .store import UsageRecord

__all__ = ["Price", "PriceTable", "default_prices", "parse_prices"]

_PER_MILLION = 1e-6


@dataclass(frozen=True, slots=True)
class Price:
    input: float = 0.0  # USD per million input tokens
    cached_input: float | None = None  # per million cached input tokens (None: as input)
    output: float = 0.0  # per million output tokens
    image: float = 0.0  # per image made or edited
    audio_second: float = 0.0  # per second of audio transcribed or translated
    characters: float = 0.0  # per million characters spoken (text-to-speech)

    def cost(self, record: UsageRecord) -> float:
        prompt = record.prompt_tokens or 0
        cached = min(record.cached_tokens or 0, prompt)
        cached_price = self.input if self.cached_input is None else self.cached_input
        tokens = (
            (prompt - cached) * self.input
            + cached * cached_price
            + (record.completion_tokens or 0) * self.output
        )
        return (
            tokens * _PER_MILLION
            + (record.images or 0) * self.image
            + (record.audio_seconds or 0.0) * self.audio_second
            + (record.characters or 0) * self.characters * _PER_MILLION
        )


def _price(name: str, data: Any, where: str) -> Price:
    if not isinstance(data, Mapping):
        raise ConfigurationError(f"{where} {name!r} must be a table of prices")
    known = {f.name for f in fields(Price)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigurationError(
            f"{where} {name!r}: unknown price(s) {', '.join(unknown)}; known: "
            f"{', '.join(sorted(known))} (USD per million tokens or characters, per image, "
            "per audio second)"
        )
    for key, value in data.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ConfigurationError(f"{where} {name!r}: {key} must be a number, 0 or more")
    return Price(**{k: float(v) for k, v in data.items()})


def parse_prices(data: Any, where: str = "[prices]") -> dict[str, Price]:
    """``{name: Price}`` from a ``[prices]`` table (or the shipped file's ``models``)."""
    if not isinstance(data, Mapping):
        raise ConfigurationError(f"{where} must be a table of model = {{prices}}")
    return {str(name): _price(str(name), value, where) for name, value in data.items()}


def default_prices() -> dict[str, Price]:
    text = resources.files(__package__).joinpath("prices.json").read_text("utf-8")
    return parse_prices(json.loads(text)["models"], "prices.json")


#: (model, provider) pairs whose price (or its absence) a table remembers, at most: callers
#: choose model names, so what is remembered must stay bounded.
_REMEMBERED = 4096
_UNSEEN: Any = object()


class PriceTable:
    """Prices by ``model`` or ``provider/model``; ``cost(record)`` in USD or None."""

    def __init__(self, prices: Mapping[str, Price]) -> None:
        self._prices = dict(prices)
        #: What ``lookup`` found per (model, provider): one dict lookup a request instead of
        #: up to three and a formatted name (the table does not change once made).
        self._found: dict[tuple[str | None, str | None], Price | None] = {}

    @classmethod
    def with_overrides(cls, overrides: Mapping[str, Price]) -> PriceTable:
        return cls({**default_prices(), **overrides})

    def lookup(self, model: str | None, provider: str | None) -> Price | None:
        pair = (model, provider)
        found: Price | None = self._found.get(pair, _UNSEEN)
        if found is _UNSEEN:
            found = self._find(model, provider)
            if len(self._found) < _REMEMBERED:
                self._found[pair] = found
        return found

    def _find(self, model: str | None, provider: str | None) -> Price | None:
        if not model:
            return None
        prices = self._prices
        if provider:
            found = prices.get(f"{provider}/{model}")
            if found is not None:
                return found
        found = prices.get(model)
        if found is None:
            # "groq/llama-3.1-8b-instant": a model pinned to a provider by name.
            _, slash, rest = model.partition("/")
            if slash:
                found = prices.get(rest)
        return found

    def cost(self, record: UsageRecord) -> float | None:
        price = self.lookup(record.model, record.provider)
        return None if price is None else price.cost(record)
