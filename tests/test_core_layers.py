"""The package's layers: each imports only those below it, so the graph has no cycle.

client -> routing -> providers -> transport -> dialects -> types -> errors, with server and
cli on top
(the README's layout section draws it). Imports under ``if TYPE_CHECKING:`` are for the type
checker only and do not count.
"""

from __future__ import annotations

import ast
from pathlib import Path

import polymux

ROOT = Path(polymux.__file__).parent
#: Bottom first: a unit may import from the units before it, never from those after it.
LAYERS = [
    "_version",
    "errors",
    "debug",  # g4f's debug switch: the polymux loggers' level
    "types",
    "dialects",  # the API dialects' vocabularies and translations, shared by providers and up
    "transport",
    "providers",
    "typing",  # g4f's type names, over providers.response
    "routing",
    "models",  # g4f's model objects, over the routing registry
    "structured",
    "testing",
    "client",
    "chat_completion",  # g4f's legacy ChatCompletion, over the clients
    "server",
    "cli",
]
#: The facade modules at the top of the package import what they offer on first use.
FACADES = {"__init__", "__main__", "Provider"}


def _unit(parts: tuple[str, ...]) -> str:
    return parts[0].removesuffix(".py")


def _guarded(tree: ast.Module) -> set[int]:
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            ids.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return ids


def imports_between_units() -> set[tuple[str, str, str]]:
    """(importing unit, imported unit, file) for every import across units."""
    edges: set[tuple[str, str, str]] = set()
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT).parts
        source = _unit(rel)
        package = list(rel[:-1])  # the importing module's package, under polymux
        tree = ast.parse(path.read_text(encoding="utf-8"))
        guarded = _guarded(tree)
        for node in ast.walk(tree):
            if id(node) in guarded:
                continue
            targets: list[list[str]] = []
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[: len(package) - (node.level - 1)]
                    module = base + (node.module.split(".") if node.module else [])
                    targets = [module] if node.module else [[*base, a.name] for a in node.names]
                elif node.module and node.module.split(".")[0] == "polymux":
                    targets = [node.module.split(".")[1:]]
            elif isinstance(node, ast.Import):
                targets = [
                    a.name.split(".")[1:] for a in node.names if a.name.split(".")[0] == "polymux"
                ]
            for target in targets:
                unit = target[0] if target else "__init__"
                known = (ROOT / unit).is_dir() or (ROOT / f"{unit}.py").exists()
                if known and unit != source:
                    edges.add((source, unit, "/".join(rel)))
    return edges


def test_every_import_goes_down_the_layers() -> None:
    upward = sorted(
        f"{file} imports {target}"
        for source, target, file in imports_between_units()
        if source not in FACADES
        and target != "__init__"
        and LAYERS.index(target) >= LAYERS.index(source)
    )
    assert upward == []


def test_every_unit_is_placed_in_a_layer() -> None:
    units = {_unit(p.relative_to(ROOT).parts) for p in ROOT.rglob("*.py")}
    assert units - FACADES == set(LAYERS)
