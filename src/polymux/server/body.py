"""Request-body fields -> keyword arguments of a client call, for the gateway's handlers.

Named fields are passed by name (``None`` left out, as absent); those the wire API types as
strings are checked here, so a wrong type is a 400 that names the field. Any other field goes
upstream in ``extra_body`` only if the operator allows it (``[server] pass_through``, the one
rule chat and images follow too: limits.passed_through); else it is a 400 that names it.
Fields that steer the gateway itself (``provider``, ``proxy``, ``timeout`` ...) are never
taken from a body: they are not among the names.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from ..errors import InvalidRequestError
from .limits import passed_through

__all__ = ["body_params", "model_of"]


def model_of(body: Mapping[str, Any]) -> str | None:
    """The body's ``model``: a string, or absent."""
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise InvalidRequestError(f"model must be a string, got {type(model).__name__}")
    return model


def body_params(
    body: Mapping[str, Any],
    names: Collection[str],
    *,
    strings: Collection[str] = (),
    handled: Collection[str] = (),
    allowed: Collection[str],
) -> dict[str, Any]:
    """``names`` present in ``body``; the rest (but ``handled``) in ``extra_body`` when
    ``allowed`` (the operator's pass_through), else refused."""
    params = {k: body[k] for k in names if body.get(k) is not None}
    for name in strings:
        if name in params and not isinstance(params[name], str):
            raise InvalidRequestError(f"{name} must be a string")
    extra = passed_through(body, {*names, *handled}, allowed)
    if extra:
        params["extra_body"] = extra
    return params
