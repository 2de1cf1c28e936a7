"""polymux's public types: requests providers receive, events they yield, objects callers get.

The public names are those below (``__all__``). The modules (chat, events, images, request,
media, embeddings, completions, moderations, audio, uploads, _record) are the implementation:
import from ``polymux.types``, not from them.
"""

from .audio import (
    SpeechRequest,
    SpeechResponse,
    Transcription,
    TranscriptionEvent,
    TranscriptionRequest,
)
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
from .completions import Completion, CompletionChoice
from .embeddings import (
    CreateEmbeddingResponse,
    Embedding,
    EmbeddingBatch,
    EmbeddingRequest,
    EmbeddingUsage,
)
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
from .images import Image, ImageEditEvent, ImagesResponse, Model, ModelList
from .moderations import Moderation, ModerationCreateResponse, ModerationRequest
from .request import (
    CallOptions,
    ChatRequest,
    ImageRef,
    ImageRequest,
    Message,
    ModelsRequest,
    Timeout,
)
from .uploads import FilePart, ImageEditRequest

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
    "Completion",
    "CompletionChoice",
    "CompletionUsage",
    "CreateEmbeddingResponse",
    "Embedding",
    "EmbeddingBatch",
    "EmbeddingRequest",
    "EmbeddingUsage",
    "FilePart",
    "Finish",
    "FinishReason",
    "Function",
    "Image",
    "ImageEditEvent",
    "ImageEditRequest",
    "ImageRef",
    "ImageRequest",
    "ImagesResponse",
    "Message",
    "Model",
    "ModelList",
    "ModelsRequest",
    "Moderation",
    "ModerationCreateResponse",
    "ModerationRequest",
    "ReasoningDelta",
    "RefusalDelta",
    "ResponseInfo",
    "SpeechRequest",
    "SpeechResponse",
    "TextDelta",
    "Timeout",
    "ToolCallDelta",
    "Transcription",
    "TranscriptionEvent",
    "TranscriptionRequest",
    "Usage",
    "WholeChoice",
]
