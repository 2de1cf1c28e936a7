"""The OpenAI-shaped clients: ``AsyncClient`` and its synchronous face ``Client``.

The public names are those below (``__all__``). The modules (async_client, sync_client,
stream, fold, params, images, vision) are the implementation: import from ``polymux.client``
or ``polymux``, not from them.
"""

from .async_client import AsyncClient
from .stream import AsyncChatStream
from .sync_client import ChatStream, Client

__all__ = ["AsyncChatStream", "AsyncClient", "ChatStream", "Client"]
