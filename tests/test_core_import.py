"""``import polymux`` is light and has no side effects (checked in a fresh interpreter)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Runs in a child interpreter. An audit hook records every socket use and every file opened
# for writing while polymux is imported; bytecode writing is off (-B) so the import system
# itself writes nothing.
CHILD = r"""
import json, os, sys

events = []
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

def hook(event, args):
    if event.startswith("socket."):
        events.append(event)
    elif event == "open":
        path, mode, flags = args
        writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & WRITE_FLAGS
        )
        if writes:
            events.append(f"open for writing: {path}")
    elif event in ("os.mkdir", "os.remove", "os.rename", "subprocess.Popen"):
        events.append(event)

sys.addaudithook(hook)
before = set(sys.modules)
import polymux
loaded = sorted(set(sys.modules) - before)
side_effects = list(events)

import asyncio.events
policy_after_import = asyncio.events._event_loop_policy

from polymux import AsyncClient, Client  # the names users import next
policy_after_names = asyncio.events._event_loop_policy

print(json.dumps({
    "loaded": loaded,
    "side_effects": side_effects,
    "policy_after_import": repr(policy_after_import),
    "policy_after_names": repr(policy_after_names),
    "aiohttp_after_names": "aiohttp" in sys.modules,
    "version": polymux.__version__,
}))
"""


def run_child(tmp_path: Path) -> dict[str, object]:
    env = {**os.environ, "HOME": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run(
        [sys.executable, "-B", "-c", CHILD],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def test_import_is_light_and_has_no_side_effects(tmp_path: Path) -> None:
    result = run_child(tmp_path)
    loaded = result["loaded"]
    assert isinstance(loaded, list)
    heavy = [m for m in loaded if m.split(".")[0] in ("aiohttp", "orjson", "openai", "pydantic")]
    assert heavy == []
    assert "asyncio" not in loaded  # not even the event loop machinery
    # Only the package, its version literal and its exception tree (standard library only) load
    # eagerly.
    eager = sorted(m for m in loaded if m.startswith("polymux"))
    assert eager == ["polymux", "polymux._version", "polymux.errors"]
    assert result["side_effects"] == []  # no network, no file written
    assert result["policy_after_import"] == "None"
    assert result["policy_after_names"] == "None"  # importing the clients sets no policy
    assert result["aiohttp_after_names"] is False  # the HTTP stack loads on first use
    assert list(tmp_path.iterdir()) == []


def test_lazy_names_resolve_and_unknown_names_fail() -> None:
    import polymux

    assert polymux.AsyncClient.__name__ == "AsyncClient"
    assert polymux.Timeout.__name__ == "Timeout"
    assert set(polymux.__all__) <= set(dir(polymux))
    for name in polymux.__all__:
        assert getattr(polymux, name) is not None
    with pytest.raises(AttributeError, match="NoSuchThing"):
        polymux.NoSuchThing  # noqa: B018
