"""The OpenAI-compatible gateway (``polymux serve``): one more caller of ``AsyncClient``.

Modules: app (ASGI app), chat / images / models / media (routes), auth (keys), store (SQLite),
usage (usage log), config (config file and flags), targets (model names -> providers),
limits, errormap (exceptions -> HTTP), openapi, web (the web chat), run (uvicorn). Needs
``polymux[server]``. They are the implementation: the public names are those below (``__all__``).
"""

from __future__ import annotations

from .app import Gateway, create_app
from .config import GatewayConfig, load_config

__all__ = ["Gateway", "GatewayConfig", "create_app", "load_config"]
