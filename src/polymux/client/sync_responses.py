"""``Client.responses``: the synchronous face of ``client.responses`` (see sync_client.py:
the async code runs on the client's private loop thread)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, overload

from ..types.responses import Response, ResponseItemList, ResponseStreamEvent
from .responses import AsyncResponseStream
from .sync_bridge import SyncStream

if TYPE_CHECKING:
    from .sync_client import Client

__all__ = ["ResponseStream", "SyncResponses"]


class ResponseStream(SyncStream[ResponseStreamEvent]):
    """An iterator of ``ResponseStreamEvent``; a context manager with ``close()``."""

    _stream: AsyncResponseStream

    def get_final_response(self) -> Response:
        return self._runner.run(self._stream.get_final_response())


class _InputItems:
    def __init__(self, client: Client) -> None:
        self._client = client

    def list(self, response_id: str, *, order: str = "desc") -> ResponseItemList:
        items = self._client.async_client.responses.input_items
        return self._client._runner.run(items.list(response_id, order=order))


class SyncResponses:
    def __init__(self, client: Client) -> None:
        self._client = client
        self.input_items = _InputItems(client)

    @overload
    def create(
        self, *, model: str = "", input: Any, stream: Literal[False] = False, **fields: Any
    ) -> Response: ...

    @overload
    def create(
        self, *, model: str = "", input: Any, stream: Literal[True], **fields: Any
    ) -> ResponseStream: ...

    def create(
        self, *, model: str = "", input: Any, stream: bool = False, **fields: Any
    ) -> Response | ResponseStream:
        result = self._client.async_client.responses.create(
            model=model, input=input, stream=stream, **fields
        )
        if isinstance(result, AsyncResponseStream):
            return ResponseStream(result, self._client._runner)
        return self._client._runner.run(result)

    def parse(self, *, model: str = "", input: Any, text_format: Any, **fields: Any) -> Response:
        pending = self._client.async_client.responses.parse(
            model=model, input=input, text_format=text_format, **fields
        )
        return self._client._runner.run(pending)

    def retrieve(self, response_id: str) -> Response:
        return self._client._runner.run(self._client.async_client.responses.retrieve(response_id))

    def delete(self, response_id: str) -> None:
        self._client._runner.run(self._client.async_client.responses.delete(response_id))
