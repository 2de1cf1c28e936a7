"""The public API, name for name: ``__all__`` of the package and of each public subpackage is
exactly this (a name added or dropped is a decision, made here), and every name resolves.

Everything else (the modules inside these packages) is implementation, free to change."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

import polymux

ERRORS = {
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AllProvidersFailedError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ConflictError",
    "EmptyResponseError",
    "InternalServerError",
    "InvalidRequestError",
    "MissingCredentialsError",
    "NoProviderForModelError",
    "NotFoundError",
    "PermissionDeniedError",
    "PolymuxError",
    "ProviderCooldownError",
    "ProviderError",
    "RateLimitError",
    "StructuredOutputError",
    "UnknownProviderError",
    "UnprocessableEntityError",
    "UnsupportedCapabilityError",
}

# g4f's names for errors of the same tree (aliases or subclasses), for code that catches them.
G4F_ERRORS = {
    "MissingAuthError",
    "ModelNotFoundError",
    "NestAsyncioError",
    "NoMediaResponseError",
    "PaymentRequiredError",
    "ProviderNotFoundError",
    "ProviderNotWorkingError",
    "ResponseError",
    "ResponseStatusError",
    "RetryProviderError",
}

PUBLIC = {
    "polymux": ERRORS
    | {
        "AsyncChatStream",
        "AsyncClient",
        "Capabilities",
        "ChatCompletion",
        "ChatStream",
        "Client",
        "GeneratedImage",
        "IterListProvider",
        "Provider",
        "RetryProvider",
        "RoutingOptions",
        "Timeout",
    },
    "polymux.errors": ERRORS | G4F_ERRORS | {"status_error"},
    "polymux.client": {
        "AsyncChatStream",
        "AsyncClient",
        "ChatStream",
        "Client",
        # the response types, where g4f's client package has them
        "ChatCompletion",
        "ChatCompletionChunk",
        "ChatCompletionMessage",
        "ChoiceDelta",
        "CompletionUsage",
        "Image",
        "ImagesResponse",
        "Model",
        "ModelList",
    },
    "polymux.providers": {"Capabilities", "GeneratedImage", "Provider"},
    "polymux.routing": {
        "ConcurrencyLimits",
        "HealthStore",
        "InMemoryHealthStore",
        "IterListProvider",
        "ModelEntry",
        "ModelRegistry",
        "RetryProvider",
        "Router",
        "RoutingOptions",
    },
    "polymux.transport": {
        "DEFAULT_RETRY",
        "ByteStream",
        "HttpRequest",
        "HttpResponse",
        "NDJSONDecoder",
        "RetryPolicy",
        "SSEDecoder",
        "SSEEvent",
        "Transport",
    },
    "polymux.types": {
        "SpeechRequest",
        "SpeechResponse",
        "Transcription",
        "TranscriptionEvent",
        "ImageEditEvent",
        "TranscriptionRequest",
        "Completion",
        "CompletionChoice",
        "CreateEmbeddingResponse",
        "Embedding",
        "EmbeddingBatch",
        "EmbeddingRequest",
        "EmbeddingUsage",
        "Moderation",
        "ModerationCreateResponse",
        "ModerationRequest",
        "FilePart",
        "ImageEditRequest",
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
    },
    "polymux.testing": {"ALL_CAPABILITIES", "FunctionProvider", "ScriptedProvider"},
    "polymux.server": {"Gateway", "GatewayConfig", "create_app", "load_config"},
    "polymux.cli": {"main"},
}


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_the_public_names_are_exactly_these(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert len(exported) == len(set(exported)), "a name listed twice"
    assert set(exported) == PUBLIC[name]
    for attribute in exported:
        assert getattr(module, attribute) is not None


def test_the_top_level_names_are_the_ones_of_their_subpackages() -> None:
    from polymux import client, errors, providers, routing, types

    for name in polymux.__all__:
        if name == "Provider":  # the seed project's module of provider classes
            assert polymux.Provider is importlib.import_module("polymux.Provider")
            continue
        if name == "ChatCompletion":  # g4f's legacy interface (polymux.client's is the type)
            assert (
                polymux.ChatCompletion
                is importlib.import_module("polymux.chat_completion").ChatCompletion
            )
            continue
        home = next(m for m in (errors, client, providers, routing, types) if name in m.__all__)
        assert getattr(polymux, name) is getattr(home, name)


def test_no_comment_points_to_a_file_outside_the_repository() -> None:
    root = Path(polymux.__file__).parents[2]
    outside = re.compile(r"wire-formats\.md|wire-formats \d|/work/|\bnotes/[\w-]+\.md")
    found = [
        f"{path.relative_to(root)}:{number}"
        for folder in ("src", "tests", "benchmarks", "examples", "tools")
        for path in sorted((root / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if outside.search(line) and path.name != "test_core_api.py"
    ]
    assert found == []


def test_polymux_provider_is_the_seed_projects_module() -> None:
    # As g4f.Provider is: its classes under the seed's names. The base class of providers is
    # polymux.providers.Provider, which the submodule's import cannot shadow.
    from polymux.providers import Provider

    seed = importlib.import_module("polymux.Provider")
    assert polymux.Provider is seed
    assert issubclass(seed.OpenaiChat, Provider)
