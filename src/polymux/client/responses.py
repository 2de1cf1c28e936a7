"""``client.responses``: OpenAI's Responses API on every chat provider.

Where every provider of a call is OpenAI itself, the request goes to OpenAI's own Responses
API untranslated and OpenAI keeps its state (responses_native.py); retrieve / delete /
input_items of ids the client's store does not hold then ask that OpenAI provider.

``create`` translates the request (dialects/responses.py) into a chat completion through the
client's own ``chat.completions.create`` (so routing, fallback and every provider work as for
chat), and the answer back into a ``Response`` or its stream of semantic events.
Conversation state lives in a ``ResponseStore``: in memory and bounded by default (the
gateway keeps its own in its database, per key). ``previous_response_id`` continues a stored
conversation; ``store=False`` keeps a response out of it.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncGenerator, Awaitable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, overload

from ..dialects.responses import (
    ResponseBuilder,
    chat_messages,
    chat_params,
    history_of,
    input_items,
    new_response,
)
from ..errors import (
    InvalidRequestError,
    NotFoundError,
    StructuredOutputError,
    UnsupportedCapabilityError,
)
from ..providers.anthropic import Anthropic
from ..providers.base import Provider
from ..providers.gemini import Gemini
from ..providers.registry import load_provider_class
from ..types.chat import ChatCompletion, ChatCompletionChunk
from ..types.request import WEB_SEARCH
from ..types.responses import (
    Response,
    ResponseItemList,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseStreamEvent,
)
from .responses_native import (
    keeper,
    native_create,
    native_request,
    native_stream,
    openai_providers,
)
from .stream import AsyncEventStream

if TYPE_CHECKING:
    from .async_client import AsyncClient

__all__ = [
    "AsyncResponseStream",
    "MemoryResponseStore",
    "ResponseStore",
    "Responses",
    "StoredResponse",
    "require_web_search",
]

#: ``responses.create`` fields that shape the request (besides model, input and stream).
FIELDS = frozenset(
    {
        "instructions",
        "tools",
        "tool_choice",
        "text",
        "reasoning",
        "max_output_tokens",
        "temperature",
        "top_p",
        "previous_response_id",
        "store",
        "metadata",
        "parallel_tool_calls",
        "truncation",
        "user",
    }
)
#: Fields accepted and left alone: they tune OpenAI's own service, not the answer.
IGNORED = frozenset(
    {
        "include",
        "service_tier",
        "prompt_cache_key",
        "prompt_cache_retention",
        "safety_identifier",
        "stream_options",
        "top_logprobs",
        "max_tool_calls",
        "background",  # accepted when false; true is refused
    }
)


@dataclass(slots=True)
class StoredResponse:
    """What a store keeps of one response."""

    response: Response
    #: The request's input items, with their ids (``input_items.list``).
    input_items: list[dict[str, Any]]
    #: The conversation up to and including this response's output, as Chat Completions
    #: messages without the instructions (``previous_response_id`` continues from it).
    history: list[dict[str, Any]]


class ResponseStore(Protocol):
    async def get(self, response_id: str) -> StoredResponse | None: ...

    async def put(self, stored: StoredResponse) -> None: ...

    async def delete(self, response_id: str) -> bool: ...


def require_web_search(providers: Sequence[Provider]) -> None:
    """A built-in web search needs providers with a native one (``WEB_SEARCH``)."""
    searchers = (Anthropic, Gemini, load_provider_class("perplexity"))
    for provider in providers:
        inner = getattr(provider, "inner", provider)  # a gateway alias wraps its provider
        if not isinstance(inner, searchers):
            raise UnsupportedCapabilityError(
                f"the built-in web_search tool needs a provider with a native web search "
                f"(OpenAI, Anthropic, Gemini, Perplexity); {provider.name} has none"
            )


class MemoryResponseStore:
    """The newest ``max_responses`` responses, in memory (the least recently used go first)."""

    def __init__(self, max_responses: int = 1000) -> None:
        if max_responses < 1:
            raise InvalidRequestError("max_responses must be at least 1")
        self._max = max_responses
        self._items: OrderedDict[str, StoredResponse] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    async def get(self, response_id: str) -> StoredResponse | None:
        stored = self._items.get(response_id)
        if stored is not None:
            self._items.move_to_end(response_id)
        return stored

    async def put(self, stored: StoredResponse) -> None:
        self._items[stored.response.id] = stored
        self._items.move_to_end(stored.response.id)
        while len(self._items) > self._max:
            self._items.popitem(last=False)

    async def delete(self, response_id: str) -> bool:
        return self._items.pop(response_id, None) is not None


class AsyncResponseStream(AsyncEventStream[ResponseStreamEvent]):
    """The events of a streamed response, in order (``async for``; ``await`` gives the stream
    itself, as in the OpenAI SDK). Closing it closes the upstream call."""

    __slots__ = ("final",)

    def __init__(self, events: AsyncGenerator[ResponseStreamEvent, None]) -> None:
        super().__init__(events)
        #: The last response event's Response, once the stream has ended.
        self.final: Response | None = None

    async def __anext__(self) -> ResponseStreamEvent:
        event = await super().__anext__()
        if event.type in ("response.completed", "response.incomplete", "response.failed"):
            self.final = event.response
        return event

    async def get_final_response(self) -> Response:
        """Read the rest of the stream; the finished Response."""
        async for _ in self:
            pass
        if self.final is None:
            raise InvalidRequestError("the stream was closed before the response finished")
        return self.final


class InputItems:
    def __init__(self, responses: Responses) -> None:
        self._responses = responses

    async def list(self, response_id: str, *, order: str = "desc") -> ResponseItemList:
        """A stored response's input items (newest first by default, as OpenAI lists them)."""
        responses = self._responses
        openai = keeper(responses._client)
        if openai is not None and await responses.store.get(response_id) is None:
            payload = await native_request(
                responses._client, openai, "GET", response_id, "input_items", {"order": order}
            )
            return ResponseItemList(
                data=list(payload.get("data") or ()),
                first_id=payload.get("first_id"),
                last_id=payload.get("last_id"),
                has_more=bool(payload.get("has_more")),
            )
        stored = await responses._stored(response_id)
        items = list(stored.input_items)
        if order == "desc":
            items.reverse()
        elif order != "asc":
            raise InvalidRequestError('order must be "asc" or "desc"')
        first = items[0].get("id") if items else None
        last = items[-1].get("id") if items else None
        return ResponseItemList(data=items, first_id=first, last_id=last)


def _message_error(exc: BaseException) -> str:
    return str(getattr(exc, "message", None) or exc)


class Responses:
    """``create`` / ``parse`` / ``retrieve`` / ``delete`` / ``input_items.list``."""

    def __init__(self, client: AsyncClient, store: ResponseStore | None = None) -> None:
        self._client = client
        self.store: ResponseStore = store if store is not None else MemoryResponseStore()
        self.input_items = InputItems(self)

    def with_store(self, store: ResponseStore) -> Responses:
        """The same client's Responses API over another store (the gateway's, per key)."""
        return Responses(self._client, store)

    # -- create ----------------------------------------------------------------------------------
    @overload
    def create(
        self, *, model: str = "", input: Any, stream: Literal[False] = False, **fields: Any
    ) -> Awaitable[Response]: ...

    @overload
    def create(
        self, *, model: str = "", input: Any, stream: Literal[True], **fields: Any
    ) -> AsyncResponseStream: ...

    @overload
    def create(
        self, *, model: str = "", input: Any, stream: bool, **fields: Any
    ) -> Awaitable[Response] | AsyncResponseStream: ...

    def create(
        self, *, model: str = "", input: Any, stream: bool = False, **fields: Any
    ) -> Awaitable[Response] | AsyncResponseStream:
        """Create a response. Fields as ``openai``'s ``responses.create``; ``provider`` picks
        providers as in ``chat.completions.create``; ``extra_body`` goes to the upstream."""
        unknown = set(fields) - FIELDS - IGNORED - {"provider", "extra_body"}
        if unknown:
            raise InvalidRequestError(
                f"unknown parameter(s) {', '.join(sorted(unknown))} for responses.create"
            )
        if fields.get("background"):
            raise InvalidRequestError("background responses are not supported")
        if not isinstance(stream, bool):
            raise InvalidRequestError(f"stream must be true or false, got {stream!r}")
        natives = openai_providers(self._client, fields.get("provider"), model)
        if natives is not None:  # OpenAI itself: its own Responses API, untranslated
            native = {**fields, "input": input}
            if stream:
                return AsyncResponseStream(native_stream(self._client, natives, model, native))
            return native_create(self._client, natives, model, native)
        items = input_items(input)
        params = chat_params(fields)
        if WEB_SEARCH in params.get("extra_body", {}):
            self._check_search(model, fields.get("provider"))
        if fields.get("extra_body") is not None:
            params["extra_body"] = {**fields["extra_body"], **params.get("extra_body", {})}
        if fields.get("provider") is not None:
            params["provider"] = fields["provider"]
        instructions = fields.get("instructions")
        if instructions is not None and not isinstance(instructions, str):
            raise InvalidRequestError("instructions must be a string")
        chat_messages(items)  # checks every part now, before anything is awaited
        if stream:
            return AsyncResponseStream(self._stream(model, items, params, fields))
        return self._complete(model, items, params, fields)

    def _check_search(self, model: str, spec: Any) -> None:
        require_web_search(self._client._providers_for(spec, model=model))

    async def _conversation(
        self, items: list[dict[str, Any]], fields: Mapping[str, Any]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(messages to send, the history they continue)."""
        history: list[dict[str, Any]] = []
        previous = fields.get("previous_response_id")
        if previous is not None:
            if not isinstance(previous, str) or not previous:
                raise InvalidRequestError("previous_response_id must be a response id string")
            stored = await self.store.get(previous)
            if stored is None:
                raise InvalidRequestError(
                    f"previous_response_id {previous!r} names no stored response (responses "
                    "created with store=false, deleted or expired are not kept)"
                )
            history = list(stored.history)
        messages = [*history, *chat_messages(items)]
        instructions = fields.get("instructions")
        if instructions:
            messages.insert(0, {"role": "system", "content": instructions})
        return messages, history

    async def _remember(
        self,
        response: Response,
        items: list[dict[str, Any]],
        history: list[dict[str, Any]],
    ) -> None:
        if response.store and response.status != "failed":
            full = [*history, *chat_messages(items), *history_of(response)]
            await self.store.put(StoredResponse(response, items, full))

    async def _complete(
        self,
        model: str,
        items: list[dict[str, Any]],
        params: dict[str, Any],
        fields: Mapping[str, Any],
    ) -> Response:
        messages, history = await self._conversation(items, fields)
        completion: ChatCompletion = await self._client.chat.completions.create(
            model=model, messages=messages, **params
        )
        response = ResponseBuilder(new_response(completion.model, fields)).whole(completion)
        await self._remember(response, items, history)
        return response

    async def _stream(
        self,
        model: str,
        items: list[dict[str, Any]],
        params: dict[str, Any],
        fields: Mapping[str, Any],
    ) -> AsyncGenerator[ResponseStreamEvent, None]:
        messages, history = await self._conversation(items, fields)
        chunks = self._client.chat.completions.create(
            model=model,
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},
            **params,
        )
        async with chunks:
            # A failure before the first chunk is raised (an HTTP error at the gateway); one
            # after it ends the stream with response.failed.
            first: ChatCompletionChunk = await chunks.__anext__()
            builder = ResponseBuilder(new_response(first.model, fields))
            builder.response.provider = first.provider
            for event in builder.start():
                yield event
            chunk: ChatCompletionChunk | None = first
            try:
                while chunk is not None:
                    for event in builder.feed(chunk):
                        yield event
                    chunk = await anext(chunks, None)
            except (asyncio.CancelledError, GeneratorExit):
                raise
            except Exception as exc:
                for event in builder.fail(exc, _message_error(exc)):
                    yield event
                return
        end = builder.finish()
        await self._remember(builder.response, items, history)
        for event in end:
            yield event

    # -- parse -----------------------------------------------------------------------------------
    async def parse(
        self, *, model: str = "", input: Any, text_format: Any, **fields: Any
    ) -> Response:
        """Like ``create``, with ``text_format`` a pydantic model class: the answer is asked for
        in its strict JSON schema and validated into ``output_parsed`` (and each output_text
        part's ``parsed``). An answer that does not validate raises ``StructuredOutputError``."""
        from ..structured import parsed_format

        if fields.get("stream"):
            raise InvalidRequestError("parse() does not stream; use create(stream=True)")
        spec = parsed_format(text_format)["json_schema"]
        fields["text"] = {"format": {"type": "json_schema", **spec}}
        pending = self.create(model=model, input=input, **fields)
        assert not isinstance(pending, AsyncResponseStream)
        response: Response = await pending
        for item in response.output:
            if not isinstance(item, ResponseOutputMessage):
                continue
            for part in item.content:
                if isinstance(part, ResponseOutputText):
                    try:
                        part.parsed = text_format.model_validate_json(part.text)
                    except ValueError as exc:
                        raise StructuredOutputError(
                            f"the answer does not validate as {text_format.__name__}: "
                            f"{str(exc)[:500]}",
                            raw=part.text,
                            provider=response.provider,
                        ) from exc
        return response

    # -- stored responses ------------------------------------------------------------------------
    async def _stored(self, response_id: str) -> StoredResponse:
        if not isinstance(response_id, str) or not response_id:
            raise InvalidRequestError("a response id must be a non-empty string")
        stored = await self.store.get(response_id)
        if stored is None:
            raise NotFoundError(
                f"no stored response with id {response_id!r} (responses created with "
                "store=false, deleted or expired are not kept)",
                status_code=404,
            )
        return stored

    async def retrieve(self, response_id: str) -> Response:
        openai = keeper(self._client)
        if openai is not None and await self.store.get(response_id) is None:
            payload = await native_request(self._client, openai, "GET", response_id)
            return Response.from_dict(payload)
        return (await self._stored(response_id)).response

    async def delete(self, response_id: str) -> None:
        if await self.store.delete(response_id):
            return
        openai = keeper(self._client)
        if openai is None:
            raise NotFoundError(f"no stored response with id {response_id!r}", status_code=404)
        await native_request(self._client, openai, "DELETE", response_id)
