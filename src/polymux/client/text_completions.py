"""``client.completions.create``: the legacy text completion API (a raw prompt in, text out).

A prompt becomes a chat request whose one user message is the prompt, and goes down the chat
path itself (routing, fallback, retries, deadlines, health, the fold): a provider whose host
serves ``/completions`` for the model answers it natively there (``NativeCompletions`` sends
the prompt as it is, with no chat template); any other provider answers it as chat. The chat
answer is then reshaped into ``Completion`` objects (``text_completion``: the streamed chunks
and the whole answer share that shape). Several prompts are several calls (concurrent when
not streamed; one after another, indexes kept, when streamed); choice ``i`` of prompt ``p``
has index ``p * n + i``, as OpenAI numbers them. ``echo`` puts the prompt before the text.
``suffix``, ``logprobs`` and ``best_of`` exist only on ``/completions``: with them, only the
providers that serve it natively are tried.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Coroutine, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal, overload

from ..errors import InvalidRequestError, UnsupportedCapabilityError
from ..providers.base import Provider
from ..types.chat import ChatCompletion, ChatCompletionChunk, CompletionUsage
from ..types.completions import Completion, CompletionChoice
from ..types.events import ChatEvent
from ..types.request import ChatRequest
from .params import build_chat_request
from .stream import AsyncChatStream
from .tasks import all_or_none

if TYPE_CHECKING:
    from ..routing.policy import RoutingOptions
    from .async_client import AsyncClient

__all__ = ["BODY_FIELDS", "AsyncCompletionStream", "NativeCompletions", "TextCompletions"]

#: Fields only ``/completions`` knows: their presence limits a call to native hosts.
_NATIVE_ONLY = ("suffix", "logprobs", "best_of")
#: Fields passed to the chat request as they are (checked there).
_CHAT_PARAMS = frozenset(
    {
        "provider",
        "temperature",
        "top_p",
        "n",
        "stop",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "stream_options",
        "user",
        "extra_body",
        "extra_headers",
        "timeout",
        "max_retries",
        "proxy",
    }
)
_KNOWN = _CHAT_PARAMS | {"max_tokens", "echo", "logit_bias", *_NATIVE_ONLY}
#: The request-body fields of ``/v1/completions`` that ``create`` takes by name (the gateway
#: passes these; anything else travels in extra_body).
BODY_FIELDS = tuple(
    sorted(_KNOWN - {"provider", "extra_body", "extra_headers", "timeout", "max_retries", "proxy"})
)


class NativeCompletions(Provider):
    """A provider whose host serves ``/completions``, seen by the chat path: its chat calls
    are the prompt sent to ``/completions`` (the request's one message is the prompt)."""

    def __init__(self, inner: Any) -> None:
        super().__init__()
        self.inner = inner
        self.name = inner.name  # one provider: its health and limits are shared with chat
        self.capabilities = inner.capabilities
        self.deadline_in_transport = inner.deadline_in_transport

    def resolve_model(self, model: str) -> str:
        resolved: str = self.inner.resolve_model(model)
        return resolved

    def stream_chat(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        stream: AsyncIterator[ChatEvent] = self.inner.stream_text_completion(request)
        return stream

    async def complete_chat(self, request: ChatRequest) -> Sequence[ChatEvent]:
        events: Sequence[ChatEvent] = await self.inner.complete_text_completion(request)
        return events


def _native(provider: Provider, model: str) -> bool:
    serves = getattr(provider, "serves_completions_for", None)
    return callable(serves) and bool(serves(model))


#: One prompt: text, or token ids (the tokenizer's, sent as they are to a native host).
Prompt = str | list[int]


def _token_ids(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in value)
    )


def _prompts(prompt: Any) -> list[Prompt]:
    """The prompts of a request, as the API takes them: a string, a list of strings, a list
    of token ids or a list of such lists."""
    if isinstance(prompt, str):
        return [prompt]
    if _token_ids(prompt):
        return [list(prompt)]
    if isinstance(prompt, Sequence) and prompt:
        if all(isinstance(p, str) for p in prompt):
            return list(prompt)
        if all(_token_ids(p) for p in prompt):
            return [list(p) for p in prompt]
    raise InvalidRequestError(
        "prompt must be a string, a non-empty list of strings, a list of token ids (integers "
        ">= 0) or a list of such lists"
    )


def _finish(reason: str | None) -> Literal["stop", "length", "content_filter"] | None:
    if reason is None:
        return None
    return reason if reason in ("length", "content_filter") else "stop"  # type: ignore[return-value]


def _completion(
    answers: Sequence[ChatCompletion], prompts: Sequence[str], n: int, echo: bool
) -> Completion:
    first = answers[0]
    choices = []
    prompt_tokens = completion_tokens = 0
    estimated = False
    for p, answer in enumerate(answers):
        for choice in answer.choices:
            text = choice.message.content or ""
            choices.append(
                CompletionChoice(
                    finish_reason=_finish(choice.finish_reason) or "stop",
                    index=p * n + choice.index,
                    text=(prompts[p] if echo else "") + text,
                )
            )
        if answer.usage is not None:
            prompt_tokens += answer.usage.prompt_tokens
            completion_tokens += answer.usage.completion_tokens
            estimated = estimated or bool(answer.usage.estimated)
    usage = CompletionUsage(
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        total_tokens=prompt_tokens + completion_tokens,
        estimated=True if estimated else None,
    )
    return _reshaped(first, choices, usage)


def _reshaped(
    source: ChatCompletion | ChatCompletionChunk,
    choices: list[CompletionChoice],
    usage: CompletionUsage | None,
) -> Completion:
    """A chat answer's (or chunk's) id, time, model and provider around completion choices."""
    return Completion(
        id=source.id.replace("chatcmpl", "cmpl", 1),
        choices=choices,
        created=source.created,
        model=source.model,
        system_fingerprint=source.system_fingerprint,
        usage=usage,
        provider=source.provider,
    )


def _chunk(chunk: ChatCompletionChunk, offset: int, prefix: dict[int, str]) -> Completion | None:
    """One chat chunk as a completion chunk; None for one that says nothing (a role)."""
    choices = []
    for choice in chunk.choices:
        text = choice.delta.content or ""
        pending = prefix.pop(choice.index, "")
        if text or choice.finish_reason or pending:
            choices.append(
                CompletionChoice(
                    finish_reason=_finish(choice.finish_reason),
                    index=offset + choice.index,
                    text=pending + text,
                )
            )
    if not choices and chunk.usage is None:
        return None
    return _reshaped(chunk, choices, chunk.usage)


class AsyncCompletionStream(AsyncChatStream):
    """An async iterator of ``Completion`` chunks (the chat stream's behaviour: closing it
    closes the upstream connection)."""

    __slots__ = ()

    async def __anext__(self) -> Completion:  # type: ignore[override]
        chunk: Completion = await super().__anext__()  # type: ignore[assignment]
        return chunk


class TextCompletions:
    """``client.completions``: the legacy text completion API, the OpenAI SDK's shapes."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    @overload
    def create(
        self, *, prompt: Any, model: str = "", stream: Literal[False] = False, **params: Any
    ) -> Coroutine[Any, Any, Completion]: ...

    @overload
    def create(
        self, *, prompt: Any, model: str = "", stream: Literal[True], **params: Any
    ) -> AsyncCompletionStream: ...

    @overload
    def create(
        self, *, prompt: Any, model: str = "", stream: bool, **params: Any
    ) -> Coroutine[Any, Any, Completion] | AsyncCompletionStream: ...

    def create(
        self, *, prompt: Any, model: str = "", stream: bool = False, **params: Any
    ) -> Coroutine[Any, Any, Completion] | AsyncCompletionStream:
        """Complete ``prompt`` (a string or a list of them). Takes the OpenAI SDK's
        parameters (``max_tokens`` may be 0, as the API allows); input is checked now."""
        unknown = sorted(set(params) - _KNOWN)
        if unknown:
            raise TypeError(
                f"create() got unexpected keyword argument(s) {', '.join(map(repr, unknown))}. "
                "Pass provider-specific fields in extra_body={...}."
            )
        client = self._client
        prompts = _prompts(prompt)
        # Token ids mean nothing to a chat model: only a host serving /completions takes them,
        # and it echoes them itself (as text) when asked.
        tokens = not isinstance(prompts[0], str)
        echo = params.get("echo") or False
        if not isinstance(echo, bool):
            raise InvalidRequestError("echo must be True or False")
        max_tokens = params.get("max_tokens")
        if max_tokens is not None and (
            isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 0
        ):
            raise InvalidRequestError(f"max_tokens must be an integer >= 0, got {max_tokens!r}")
        chat_params = {k: v for k, v in params.items() if k in _CHAT_PARAMS}
        native_only = {k: params[k] for k in _NATIVE_ONLY if params.get(k) is not None}
        if tokens and echo:
            native_only["echo"] = True
        extra = {**(chat_params.get("extra_body") or {}), **native_only}
        if params.get("logit_bias") is not None:
            extra["logit_bias"] = params["logit_bias"]
        if extra:
            chat_params["extra_body"] = extra
        # The prompt as a message list: an empty prompt is valid here (a bare string would be
        # refused as an empty chat message).
        # refused as an empty chat message). Token ids are put in after the message checks:
        # only NativeCompletions reads them, as the prompt it sends.
        first = [{"role": "user", "content": "" if tokens else prompts[0]}]
        base = build_chat_request(model, first, stream, chat_params, client.options)
        base.max_tokens = max_tokens  # 0 is valid here; chat's own check would refuse it
        spec = params.get("provider")
        providers = self._providers(spec, base, bool(native_only), tokens)
        routing = client._routing_for(spec)
        requests = [
            replace(base, messages=[{"role": "user", "content": p}]) if i or tokens else base
            for i, p in enumerate(prompts)
        ]
        n = base.n or 1
        texts = [p if isinstance(p, str) else "" for p in prompts]
        echo = echo and not tokens  # the host echoed token prompts itself
        if stream:
            return AsyncCompletionStream(
                self._stream(providers, requests, routing, n, texts if echo else None)  # type: ignore[arg-type]
            )
        return self._complete(providers, requests, routing, n, texts, echo)

    def _providers(
        self, spec: Any, request: ChatRequest, native_only: bool, tokens: bool
    ) -> list[Provider]:
        client = self._client
        chat = client._chat_providers(spec, request)
        out: list[Provider] = []
        for provider in chat:
            if _native(provider, client.router.model_for(provider, request.model)):
                out.append(NativeCompletions(provider))
            elif not native_only and not tokens:
                out.append(provider)
        if not out:
            what = (
                "token-id prompts (a chat model takes text: pass the prompt as text, or route "
                "the model to such a host)"
                if tokens
                else ", ".join(_NATIVE_ONLY)
            )
            raise UnsupportedCapabilityError(
                f"{what} need a host that serves /v1/completions for the model (vLLM, "
                f"llama.cpp, Together, Fireworks ...); none of "
                f"{', '.join(p.name for p in chat)} does"
            )
        return out

    async def _complete(
        self,
        providers: Sequence[Provider],
        requests: Sequence[ChatRequest],
        routing: RoutingOptions | None,
        n: int,
        prompts: Sequence[str],
        echo: bool,
    ) -> Completion:
        client = self._client
        answers = await all_or_none([client._complete(providers, r, routing) for r in requests])
        return _completion(answers, prompts, n, echo)

    async def _stream(
        self,
        providers: Sequence[Provider],
        requests: Sequence[ChatRequest],
        routing: RoutingOptions | None,
        n: int,
        echo: Sequence[str] | None,
    ) -> AsyncGenerator[Completion, None]:
        for p, request in enumerate(requests):
            prefix = {i: echo[p] for i in range(n)} if echo else {}
            chunks = self._client._chunks(providers, request, routing)
            try:
                async for chunk in chunks:
                    out = _chunk(chunk, p * n, prefix)
                    if out is not None:
                        yield out
            finally:
                await chunks.aclose()
