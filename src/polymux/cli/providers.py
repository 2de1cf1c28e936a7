"""``polymux providers``: every known provider name, and whether it is usable here and why not.

The list is the registry's (built-in table plus plugins), so it grows as providers are added.
"Usable" means a call could be made from this machine without a configuration error: the key
it requires is set and it knows where to send requests. Nothing is sent over the network.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass

from .app import Runner
from .terminal import printable

__all__ = ["ProviderStatus", "provider_status", "register"]


def register(parser: argparse.ArgumentParser) -> Runner:
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    parser.add_argument("--usable", action="store_true", help="only list the providers usable here")
    return run


@dataclass(frozen=True)
class ProviderStatus:
    name: str
    usable: bool
    reason: str  # why not usable ("" when usable)
    serves: tuple[str, ...]  # "chat", "images"
    where: str = ""  # the base URL requests would go to, when the provider has one
    free: str = ""  # what the host gives at no cost ("" when nothing, or local)


def provider_status(name: str) -> ProviderStatus:
    """Load one provider by name and check, offline, whether it could be called here."""
    from ..errors import PolymuxError
    from ..providers.registry import load_provider_class
    from ..routing.usable import unusable_reason
    from ..transport.urls import has_userinfo, mask_userinfo

    try:
        provider = load_provider_class(name)()
    except ImportError as exc:
        missing = f" (missing module {exc.name})" if exc.name else ""
        return ProviderStatus(name, False, f"cannot be loaded{missing}", ())
    except PolymuxError as exc:
        return ProviderStatus(name, False, str(exc), ())
    serves = tuple(
        what
        for what, ok in (("chat", provider.supports_chat), ("images", provider.supports_images))
        if ok
    )
    free = provider.free_tier
    # The same judgement routing uses when a caller names a model and no provider.
    reason = unusable_reason(provider)
    if reason is not None:
        return ProviderStatus(name, False, reason, serves, free=free)
    try:
        root = getattr(provider, "root", None)  # HTTP providers: where requests would go
    except PolymuxError as exc:
        return ProviderStatus(name, False, str(exc), serves, free=free)
    where = mask_userinfo(root) if isinstance(root, str) else ""  # never print a password
    if isinstance(root, str) and has_userinfo(root) and provider.api_key:
        return ProviderStatus(
            name,
            False,
            "its base URL holds credentials (user:password@) and an API key is set too; "
            "use one of them",
            serves,
            where,
            free,
        )
    return ProviderStatus(name, True, "", serves, where, free)


def run(args: argparse.Namespace) -> int:
    from ..providers.registry import known_names

    statuses = [provider_status(name) for name in known_names()]
    if args.usable:
        statuses = [s for s in statuses if s.usable]
    out = sys.stdout
    if args.json:
        rows = [
            {
                "name": s.name,
                "usable": s.usable,
                "reason": s.reason or None,
                "serves": s.serves,
                "base_url": s.where or None,
                "free_tier": s.free or None,
            }
            for s in statuses
        ]
        out.write(json.dumps(rows, indent=2) + "\n")
        return 0
    width = max((len(s.name) for s in statuses), default=0)
    out.write(f"{'PROVIDER':<{width}}  {'USABLE':<6}  {'SERVES':<11}  NEEDS / BASE URL\n")
    for s in statuses:
        state = "yes" if s.usable else "no"
        serves = ",".join(s.serves) or "-"
        why = f"  {printable(s.reason or s.where)}" if s.reason or s.where else ""
        free = f"  (free: {printable(s.free)})" if s.free else ""
        out.write(f"{s.name:<{width}}  {state:<6}  {serves:<11}{why}{free}".rstrip() + "\n")
    return 0
