"""``client.responses`` when the upstream is OpenAI itself: the request goes to OpenAI's own
``/v1/responses`` untranslated (built-in tools, ``include``, encrypted reasoning and all),
and OpenAI keeps the conversation state. The answer is read into polymux's objects: items
polymux does not build itself stay as OpenAI sent them (``ResponseOtherItem``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import orjson

from ..errors import APIResponseValidationError, PolymuxError
from ..providers.base import Provider
from ..providers.openai import OpenAI
from ..transport.base import ByteStream
from ..transport.sse import SSEDecoder
from ..types.responses import Response, ResponseStreamEvent, output_item

if TYPE_CHECKING:
    from .async_client import AsyncClient

__all__ = ["keeper", "native_create", "native_request", "native_stream", "openai_providers"]


def openai_providers(client: AsyncClient, spec: Any, model: str) -> list[Provider] | None:
    """The providers for this call when every one is OpenAI itself, else None (the caller
    translates, and reports any configuration error there)."""
    try:
        providers = client._providers_for(spec, model=model)
    except PolymuxError:
        return None
    if providers and all(isinstance(p, OpenAI) for p in providers):
        return providers
    return None


def keeper(client: AsyncClient) -> OpenAI | None:
    """The configured OpenAI provider that keeps natively created responses, if any."""
    return next((p for p in client.providers if isinstance(p, OpenAI)), None)


def _body(provider: Provider, model: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in fields.items() if k not in ("provider", "extra_body")}
    body.update(fields.get("extra_body") or {})
    body["model"] = provider.resolve_model(model)
    return body


def _response(payload: Any, provider: str) -> Response:
    if not isinstance(payload, dict) or not isinstance(payload.get("output"), list):
        raise APIResponseValidationError("expected a Response object", provider=provider)
    response = Response.from_dict(payload)
    response.provider = provider
    return response


async def native_create(
    client: AsyncClient, providers: list[Provider], model: str, fields: Mapping[str, Any]
) -> Response:
    async def call(provider: Provider) -> Any:
        assert isinstance(provider, OpenAI)
        http = provider.native_request(
            "POST", "responses", client.options, _body(provider, model, fields)
        )
        async with client.router.slot(provider):
            return (await client.transport.request(http)).json()

    provider, payload = await client.router.first(
        providers, lambda p, _: call(p), total=client.options.timeout.total
    )
    await client.router.settle(provider.name)
    return _response(payload, provider.name)


def _event(data: str, provider: str) -> ResponseStreamEvent:
    try:
        payload = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise APIResponseValidationError(
            f"malformed JSON in the stream: {data[:200]!r}", provider=provider
        ) from exc
    if not isinstance(payload, dict):
        raise APIResponseValidationError("expected an event object", provider=provider)
    fields = {k: v for k, v in payload.items() if k not in ("type", "sequence_number")}
    if isinstance(fields.get("response"), dict):
        fields["response"] = _response(fields["response"], provider)
    if isinstance(fields.get("item"), dict):
        fields["item"] = output_item(fields["item"])
    return ResponseStreamEvent(
        str(payload.get("type")), int(payload.get("sequence_number") or 0), fields
    )


async def native_stream(
    client: AsyncClient, providers: list[Provider], model: str, fields: Mapping[str, Any]
) -> AsyncGenerator[ResponseStreamEvent, None]:
    async with contextlib.AsyncExitStack() as stack:

        async def opened(provider: Provider) -> ByteStream:
            assert isinstance(provider, OpenAI)
            body = {**_body(provider, model, fields), "stream": True}
            http = provider.native_request("POST", "responses", client.options, body)
            await stack.enter_async_context(client.router.slot(provider))
            return await stack.enter_async_context(client.transport.stream(http))

        provider, upstream = await client.router.first(
            providers, lambda p, _: opened(p), total=client.options.timeout.total
        )
        decoder = SSEDecoder()
        try:
            async for piece in upstream.iter_bytes():
                for event in decoder.feed(piece):
                    yield _event(event.data, provider.name)
            for event in decoder.close():
                yield _event(event.data, provider.name)
        except BaseException as exc:  # broke off, a bad event, or closed early
            await client.router.settle(provider.name, exc)
            raise
        await client.router.settle(provider.name)


async def native_request(
    client: AsyncClient,
    provider: OpenAI,
    method: str,
    response_id: str,
    what: str = "",
    query: Mapping[str, str] | None = None,
) -> Any:
    """A retrieve / delete / input_items call for a response OpenAI keeps; its JSON."""
    path = f"responses/{quote(response_id, safe='')}" + (f"/{what}" if what else "")
    if query:
        path += "?" + urlencode(query)
    http = provider.native_request(method, path, client.options)
    async with client.router.slot(provider):
        return (await client.transport.request(http)).json()
