"""polymux's public types: requests providers receive, events they yield, objects callers get.

The public names are those below (``__all__``). The modules (chat, events, images, request,
media, _record) are the implementation: import from ``polymux.types``, not from them.
"""

from .chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionMessage,
    ChatCompletionMessageToolCall,
    Choice,
    ChoiceDelta,
    ChoiceDeltaToolCall,
    ChoiceDeltaToolCallFunction,
    ChunkChoice,
    CompletionUsage,
    FinishReason,
    Function,
)
from .embeddings import CreateEmbeddingResponse, Embedding, EmbeddingRequest, EmbeddingUsage
from .events import (
    ChatEvent,
    Finish,
    ReasoningDelta,
    RefusalDelta,
    ResponseInfo,
    TextDelta,
    ToolCallDelta,
    Usage,
    WholeChoice,
)
from .images import Image, ImagesResponse, Model, ModelList
from .request import (
    CallOptions,
    ChatRequest,
    ImageRef,
    ImageRequest,
    Message,
    ModelsRequest,
    Timeout,
)

__all__ = [
    "CallOptions",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatCompletionMessage",
    "ChatCompletionMessageToolCall",
    "ChatEvent",
    "ChatRequest",
    "Choice",
    "ChoiceDelta",
    "ChoiceDeltaToolCall",
    "ChoiceDeltaToolCallFunction",
    "ChunkChoice",
    "CompletionUsage",
    "CreateEmbeddingResponse",
    "Embedding",
    "EmbeddingRequest",
    "EmbeddingUsage",
    "Finish",
    "FinishReason",
    "Function",
    "Image",
    "ImageRef",
    "ImageRequest",
    "ImagesResponse",
    "Message",
    "Model",
    "ModelList",
    "ModelsRequest",
    "ReasoningDelta",
    "RefusalDelta",
    "ResponseInfo",
    "TextDelta",
    "Timeout",
    "ToolCallDelta",
    "Usage",
    "WholeChoice",
]
