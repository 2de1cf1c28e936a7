"""The shared "model" behind the smart fakes, so one table of conformance cases fits them all.

Each fake server reads its own wire format into a ``View`` (what the request asked, in neutral
terms), asks ``think(view)`` for an ``Answer``, and writes that answer back in its own wire
format. The rules are deterministic and visible in the answer, so a test can tell from the
reply that the provider translated the request correctly:

- the last message is a tool result -> text ``tool said: <result>``;
- tools are offered -> call them (every tool when the user says "both", else the first),
  arguments made from each tool's schema (see ``sample``);
- a JSON schema (or JSON mode) is asked -> a JSON value matching the schema;
- otherwise -> text echoing the user's last text, the system prompt, the images seen and the
  number of user turns, e.g. ``echo: hi | system: Be brief | images: image/png:68 | turns: 2``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# The values ``sample`` puts into schema-shaped answers, by JSON type.
SAMPLE_STRING = "Paris"
SAMPLE_INTEGER = 21
SAMPLE_NUMBER = 1.5


@dataclass
class Image:
    media_type: str
    size: int  # bytes (after decoding) or, for a URL the provider passed on, the URL's length
    url: str | None = None


@dataclass
class Turn:
    role: str  # user, assistant, tool
    text: str = ""
    images: list[Image] = field(default_factory=list)


@dataclass
class Tool:
    name: str
    schema: dict[str, Any]


@dataclass
class View:
    system: str = ""
    turns: list[Turn] = field(default_factory=list)
    tools: list[Tool] = field(default_factory=list)
    schema: dict[str, Any] | None = None
    json_mode: bool = False
    stop: list[str] = field(default_factory=list)


@dataclass
class Call:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass
class Answer:
    text: str = ""
    calls: list[Call] = field(default_factory=list)
    finish: str = "stop"  # stop, length, tool_calls
    prompt_tokens: int = 0
    completion_tokens: int = 0


def sample(schema: dict[str, Any], root: dict[str, Any] | None = None) -> Any:
    """A value that satisfies a (simple) JSON schema; local ``$ref``s are followed."""
    root = root if root is not None else schema
    if "$ref" in schema:
        target: Any = root
        for key in schema["$ref"].lstrip("#/").split("/"):
            target = target[key]
        return sample(target, root)
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return sample(schema[key][0], root)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next(k for k in kind if k != "null")
    kind = kind.lower()  # Gemini's Schema spells types in upper case
    if kind == "object":
        props = schema.get("properties") or {}
        return {name: sample(sub, root) for name, sub in props.items()}
    if kind == "array":
        return [sample(schema.get("items") or {"type": "string"}, root)]
    if kind == "string":
        return SAMPLE_STRING
    if kind == "integer":
        return SAMPLE_INTEGER
    if kind == "number":
        return SAMPLE_NUMBER
    if kind == "boolean":
        return True
    return None


def _words(text: str) -> int:
    return len(text.split())


def think(view: View) -> Answer:
    prompt_tokens = _words(view.system) + sum(_words(t.text) + 1 for t in view.turns)
    last = view.turns[-1] if view.turns else Turn("user")
    if last.role == "tool":
        answer = Answer(text=f"tool said: {last.text}")
    elif view.tools:
        chosen = view.tools if "both" in last.text else view.tools[:1]
        calls = [Call(f"fake_call_{i}", t.name, sample(t.schema)) for i, t in enumerate(chosen)]
        answer = Answer(calls=calls, finish="tool_calls")
    elif view.schema is not None:
        answer = Answer(text=json.dumps(sample(view.schema)))
    elif view.json_mode:
        answer = Answer(text=json.dumps({"echo": last.text}))
    else:
        parts = [f"echo: {last.text}"]
        if view.system:
            parts.append(f"system: {view.system}")
        images = [i for t in view.turns for i in t.images]
        if images:
            parts.append("images: " + ",".join(f"{i.media_type}:{i.size}" for i in images))
        parts.append(f"turns: {sum(t.role == 'user' for t in view.turns)}")
        answer = Answer(text=" | ".join(parts))
    # A real server stops at a stop sequence itself; so do the fakes, when it reached them.
    for stop in view.stop:
        at = answer.text.find(stop)
        if at >= 0:
            answer.text = answer.text[:at]
    answer.prompt_tokens = prompt_tokens
    answer.completion_tokens = _words(answer.text) + 3 * len(answer.calls)
    return answer


def pieces(text: str, size: int = 3) -> list[str]:
    """The answer text cut the way a model streams it: a few characters at a time."""
    return [text[i : i + size] for i in range(0, len(text), size)]


def cut(raw: bytes, size: int) -> list[bytes]:
    """A whole response body cut into ``size``-byte writes, so lines and events straddle
    network chunks (and multi-byte characters are split)."""
    return [raw[i : i + size] for i in range(0, len(raw), size)]
