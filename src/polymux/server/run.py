"""Serve the gateway with uvicorn (uvloop and httptools when installed).

Graceful shutdown is uvicorn's: on SIGINT/SIGTERM it stops listening (new connections are
refused), closes idle connections, lets in-flight requests finish for up to
``shutdown_timeout`` seconds, cancels the rest, then the app closes its upstream
connections and writes the rest of the usage log.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from .app import Gateway, create_app
from .config import GatewayConfig, is_loopback_host
from .database import default_target, open_database
from .protocol import protocol_class

__all__ = ["check_bind", "serve", "uvicorn_config"]

log = logging.getLogger("polymux.server")


def check_bind(config: GatewayConfig, db_path: Path | str) -> None:
    """Refuse to listen beyond loopback while no API key exists, unless told to."""
    if is_loopback_host(config.host) or config.allow_unauthenticated:
        return

    async def read() -> bool:
        async with await open_database(db_path, pool_size=1) as db:
            return (await db.key_state())[0]

    has_keys = asyncio.run(read())
    if not has_keys:
        raise ConfigurationError(
            f"refusing to listen on {config.host} without API keys: anyone on the network "
            "could use your providers. Create a key with `polymux keys create NAME`, listen "
            "on 127.0.0.1, or pass --allow-unauthenticated to serve everyone without a key"
        )


def _have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def uvicorn_config(app: Gateway, config: GatewayConfig, **overrides: Any) -> Any:
    try:
        import uvicorn
    except ImportError:
        raise ConfigurationError(
            "the gateway needs uvicorn: pip install 'polymux[server]'"
        ) from None
    options: dict[str, Any] = {
        "host": config.host,
        "port": config.port,
        "loop": "uvloop" if _have("uvloop") else "asyncio",
        "http": protocol_class("httptools" if _have("httptools") else "h11"),
        # X-Forwarded-For is believed only from the proxies the operator named (uvicorn's
        # default trusts 127.0.0.1, which any same-host proxy is).
        "proxy_headers": bool(config.trusted_proxies),
        "forwarded_allow_ips": list(config.trusted_proxies) or None,
        "lifespan": "on",
        "access_log": False,  # the usage log records every API call; this would double it
        "timeout_graceful_shutdown": config.shutdown_timeout,
        "log_level": "info",
        "server_header": False,
    }
    options.update(overrides)
    return uvicorn.Config(app, **options)


def serve(config: GatewayConfig, *, db_path: Path | None = None, workers: int = 1) -> None:
    """Run the gateway until interrupted: in this process, or in ``workers`` processes
    sharing the port (workers.py)."""
    import uvicorn

    db = db_path or config.database_url or config.database or default_target()
    check_bind(config, db)
    if workers > 1:
        from .workers import serve_workers

        if config.redis is None:
            log.warning(
                "%d workers without [state] redis: each worker keeps its own per-key limits "
                "and provider cooldowns",
                workers,
            )
        serve_workers(config, db if isinstance(db, Path) else None, workers)
        return
    if config.json_logs:
        from .request_log import install_handler

        install_handler()
    app = create_app(config, db_path=db if isinstance(db, Path) else None)
    server = uvicorn.Server(uvicorn_config(app, config))
    server.run()
