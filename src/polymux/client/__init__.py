"""The OpenAI-shaped clients: ``AsyncClient`` and its synchronous face ``Client``, with the
response types (``from g4f.client import ...`` becomes ``from polymux.client import ...``).

The public names are those below (``__all__``). The modules (async_client, sync_client,
stream, fold, params, images, vision, g4f, image_choice) are the implementation: import from
``polymux.client`` or ``polymux``, not from them.
"""

from ..types.chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionMessage,
    ChoiceDelta,
    CompletionUsage,
)
from ..types.images import Image, ImagesResponse, Model, ModelList
from .async_client import AsyncClient
from .stream import AsyncChatStream
from .sync_client import ChatStream, Client

__all__ = [
    "AsyncChatStream",
    "AsyncClient",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatCompletionMessage",
    "ChatStream",
    "ChoiceDelta",
    "Client",
    "CompletionUsage",
    "Image",
    "ImagesResponse",
    "Model",
    "ModelList",
]
