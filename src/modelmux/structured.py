"""Structured output: pydantic model classes as ``response_format``, and parsing answers."""

from __future__ import annotations

from typing import Any

__all__ = ["json_schema_format"]


def json_schema_format(model: Any) -> dict[str, Any]:
    """OpenAI's ``json_schema`` response_format for a pydantic model class."""
    schema = model.model_json_schema()
    return {
        "type": "json_schema",
        "json_schema": {"name": model.__name__, "schema": schema, "strict": False},
    }
