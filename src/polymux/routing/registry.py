"""The model registry: canonical model names, their aliases, and who serves them.

Entries are data of this shape (Python, JSON, or TOML ``[models."name"]`` tables)::

    {
        "llama-3.3-70b": {
            "aliases": ["llama3.3-70b"],
            "providers": {"groq": "llama-3.3-70b-versatile", "ollama": "llama3.3:70b"},
        },
        "fast": "llama-3.3-70b",            # a string: one more alias of an existing model
    }

``providers`` is ordered: it is the order tried when a caller names the model without a
provider. A user entry for a name that exists is merged in front of it: the user's providers
come first (an id given for a provider already listed replaces it, ``None`` removes it) and
``"replace": true`` drops the built-in providers altogether. Names are case-insensitive.
Provider names are only names here: nothing is imported until a request routes to them.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Union

from ..errors import ConfigurationError

__all__ = ["ModelEntry", "ModelRegistry", "ModelsSource", "load_models_file"]

#: What ``AsyncClient(models=...)`` accepts: entries, a file path, or a ready registry.
ModelsSource = Union[Mapping[str, Any], str, "os.PathLike[str]", "ModelRegistry", None]

_MAX_FILE = 4 * 1024 * 1024  # a registry file is a few kilobytes; refuse anything absurd
_ENTRY_KEYS = frozenset({"aliases", "providers", "replace"})


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """One model: its canonical name, aliases, and (provider name, provider's id) in order."""

    name: str
    aliases: tuple[str, ...] = ()
    routes: tuple[tuple[str, str], ...] = ()

    @property
    def providers(self) -> list[str]:
        return [provider for provider, _ in self.routes]

    def model_for(self, provider: str) -> str | None:
        """The id this provider knows the model by, or None if it does not serve it."""
        key = provider.lower()
        for name, model in self.routes:
            if name == key:
                return model
        return None


@dataclass(slots=True)
class ModelRegistry:
    """Canonical names -> entries, plus an alias index. Build one with ``ModelRegistry.builtin()``
    and ``extended(...)``; it is never mutated after construction."""

    entries: dict[str, ModelEntry] = field(default_factory=dict)
    _aliases: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for key, entry in self.entries.items():
            for alias in entry.aliases:
                self._aliases[alias.lower()] = key

    @classmethod
    def builtin(cls) -> ModelRegistry:
        """The registry that ships with polymux (routing/catalog.py)."""
        return _builtin()

    @classmethod
    def from_source(cls, source: ModelsSource) -> ModelRegistry:
        """The built-in registry extended by ``source`` (entries, a file path, or a registry)."""
        if source is None:
            return _builtin()
        if isinstance(source, ModelRegistry):
            return source
        if isinstance(source, (str, os.PathLike)):
            return _builtin().extended(load_models_file(source), origin=os.fspath(source))
        if isinstance(source, Mapping):
            return _builtin().extended(source)
        raise ConfigurationError(
            f"models= takes a mapping of model entries or a JSON/TOML file path, "
            f"got {type(source).__name__}"
        )

    # -- lookup --------------------------------------------------------------------------------
    def lookup(self, name: str) -> ModelEntry | None:
        """The entry for a canonical name or alias (case-insensitive), or None."""
        key = name.lower()
        entry = self.entries.get(key)
        if entry is None:
            canonical = self._aliases.get(key)
            entry = self.entries.get(canonical) if canonical else None
        return entry

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.lookup(name) is not None

    def __iter__(self) -> Iterator[ModelEntry]:
        return iter(self.entries.values())

    def __len__(self) -> int:
        return len(self.entries)

    def serving(self, provider: str) -> list[ModelEntry]:
        """Entries this provider serves, in registry order."""
        key = provider.lower()
        return [e for e in self.entries.values() if any(p == key for p, _ in e.routes)]

    # -- extension -----------------------------------------------------------------------------
    def extended(self, data: Mapping[str, Any], *, origin: str = "models") -> ModelRegistry:
        """A new registry with ``data``'s entries merged in (see the module docstring)."""
        if not isinstance(data, Mapping):
            raise ConfigurationError(f"{origin}: expected a mapping of model names to entries")
        entries = dict(self.entries)
        aliases_later: list[tuple[str, str]] = []
        for raw_name, value in data.items():
            if not isinstance(raw_name, str) or not raw_name:
                raise ConfigurationError(f"{origin}: model names must be non-empty strings")
            where = f"{origin}[{raw_name!r}]"
            if isinstance(value, str):
                aliases_later.append((raw_name, value))
                continue
            key = raw_name.lower()
            base = entries.get(key)
            entries[key] = _merge(raw_name, base, _parse_entry(value, where))
        registry = ModelRegistry(entries)
        for alias, target in aliases_later:
            entry = registry.lookup(target)
            if entry is None:
                raise ConfigurationError(
                    f"{origin}[{alias!r}]: alias of {target!r}, which is not a known model"
                )
            key = entry.name.lower()
            registry.entries[key] = ModelEntry(entry.name, (*entry.aliases, alias), entry.routes)
            registry._aliases[alias.lower()] = key
        return registry


@dataclass(frozen=True, slots=True)
class _Parsed:
    aliases: tuple[str, ...]
    routes: tuple[tuple[str, str | None], ...]
    replace: bool


def _parse_entry(value: Any, where: str) -> _Parsed:
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            f"{where}: expected {{'providers': {{name: model id}}, 'aliases': [...]}} or an "
            f"alias string, got {type(value).__name__}"
        )
    unknown = sorted(set(value) - _ENTRY_KEYS)
    if unknown:
        raise ConfigurationError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; "
            "an entry has 'providers', 'aliases' and optionally 'replace'"
        )
    aliases = value.get("aliases", ())
    if isinstance(aliases, str) or not all(isinstance(a, str) and a for a in aliases):
        raise ConfigurationError(f"{where}: 'aliases' must be a list of strings")
    providers = value.get("providers", {})
    if not isinstance(providers, Mapping):
        raise ConfigurationError(
            f"{where}: 'providers' must map provider names to that provider's model id"
        )
    routes: list[tuple[str, str | None]] = []
    for provider, model in providers.items():
        if not isinstance(provider, str) or not provider:
            raise ConfigurationError(f"{where}: provider names must be non-empty strings")
        if model is not None and (not isinstance(model, str) or not model):
            raise ConfigurationError(
                f"{where}['providers'][{provider!r}]: expected the provider's model id "
                "(a string), or null to remove the provider"
            )
        routes.append((provider.lower(), model))
    replace = value.get("replace", False)
    if not isinstance(replace, bool):
        raise ConfigurationError(f"{where}: 'replace' must be true or false")
    return _Parsed(tuple(aliases), tuple(routes), replace)


def _merge(name: str, base: ModelEntry | None, new: _Parsed) -> ModelEntry:
    removed = {p for p, m in new.routes if m is None}
    front = [(p, m) for p, m in new.routes if m is not None]
    named = {p for p, _ in new.routes}
    kept: list[tuple[str, str]] = []
    aliases: tuple[str, ...] = ()
    if base is not None:
        name = base.name
        aliases = base.aliases
        if not new.replace:
            kept = [(p, m) for p, m in base.routes if p not in named and p not in removed]
    routes = tuple(dict.fromkeys([*front, *kept]))  # order kept; exact duplicates dropped
    merged_aliases = tuple(dict.fromkeys([*aliases, *new.aliases]))
    return ModelEntry(name, merged_aliases, routes)


def load_models_file(path: str | os.PathLike[str]) -> Mapping[str, Any]:
    """Model entries from a JSON or TOML file: its ``models`` table, or the whole document."""
    file = Path(path)
    try:
        with file.open("rb") as fh:
            raw = fh.read(_MAX_FILE + 1)
    except OSError as exc:
        raise ConfigurationError(f"cannot read the models file {file}: {exc.strerror}") from exc
    if len(raw) > _MAX_FILE:
        raise ConfigurationError(f"the models file {file} is larger than {_MAX_FILE} bytes")
    data: Any
    if file.suffix.lower() == ".toml":
        if sys.version_info < (3, 11):
            raise ConfigurationError(
                f"{file}: reading TOML needs Python 3.11 or later; use a JSON file"
            )
        tomllib: Any = importlib.import_module("tomllib")  # 3.11+; mypy checks as 3.10
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"{file}: invalid TOML: {exc}") from exc
    else:
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ConfigurationError(f"{file}: invalid JSON: {exc}") from exc
    if isinstance(data, Mapping) and isinstance(data.get("models"), Mapping):
        data = data["models"]
    if not isinstance(data, Mapping):
        raise ConfigurationError(f"{file}: expected a table of models")
    return data


@lru_cache(maxsize=1)
def _builtin() -> ModelRegistry:
    from .catalog import AUDIO_MODELS, BUILTIN_MODELS, EMBEDDING_MODELS, MODERATION_MODELS

    models = {**BUILTIN_MODELS, **EMBEDDING_MODELS, **MODERATION_MODELS, **AUDIO_MODELS}
    return ModelRegistry().extended(models, origin="catalog")
