"""The OpenAI-shaped clients: ``AsyncClient`` and its synchronous face ``Client``."""

from .async_client import AsyncClient
from .stream import AsyncChatStream
from .sync_client import ChatStream, Client

__all__ = ["AsyncChatStream", "AsyncClient", "ChatStream", "Client"]
