"""How the sync ``Client`` hands work to its private event loop thread and gets results back.

A call is one callback into the loop thread (``call_soon_threadsafe``) that starts a task,
and one lock the task's done-callback releases: no ``concurrent.futures.Future``, no wrapper
coroutine, no condition variable.

A stream is read ahead by one task in the loop thread (the pump), which appends each chunk to
a deque the caller's thread pops from. The caller only blocks, and the pump only wakes it,
when the deque is empty; it then takes whatever has arrived since, so chunks cross threads in
batches without the first one ever being held back. The pump stops reading at ``HIGH_WATER``
chunks ahead of the caller and goes on when the caller is half way through them, so a slow
caller does not make it buffer a whole answer. Closing the stream, breaking out of a loop
over it (once the stream is garbage) or closing the client cancels the pump, and the pump
closes the async stream and with it the upstream connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Awaitable, Coroutine, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar, cast

from ..types.chat import ChatCompletionChunk
from .stream import AsyncEventStream

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["HIGH_WATER", "ChatStream", "LoopThread", "SyncStream"]

T = TypeVar("T")

#: Chunks the pump may read ahead of the caller before it waits for the caller.
HIGH_WATER: Final = 256
_CLOSED_MESSAGE = "this polymux Client is closed; create a new one"


class LoopThread:
    """A private event loop running in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        # Calls to start, handed over from callers' threads. The loop thread is woken (a
        # write to its self-pipe) only by the first call since it last looked: calls made
        # while it is busy cost no system call.
        self._incoming: deque[_Call] = deque()
        self._woken = False
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="polymux-sync", daemon=True
        )
        self._thread.start()

    def check_usable(self) -> None:
        if threading.current_thread() is self._thread:
            raise RuntimeError("a sync polymux Client cannot be called from its own event loop")
        if self.loop.is_closed() or not self._thread.is_alive():
            raise RuntimeError(_CLOSED_MESSAGE)

    def alive(self) -> bool:
        return self._thread.is_alive()

    def run(self, awaitable: Awaitable[T]) -> T:
        """Run ``awaitable`` in the loop thread and wait for its result (or exception)."""
        try:
            self.check_usable()
        except RuntimeError:
            if asyncio.iscoroutine(awaitable):
                awaitable.close()  # never started: no "was never awaited" warning
            raise
        coro = awaitable if asyncio.iscoroutine(awaitable) else _await(awaitable)
        call = _Call(coro)
        self._incoming.append(call)
        if not self._woken:  # read after the append: see _start_incoming
            self._woken = True
            self.loop.call_soon_threadsafe(self._start_incoming)
        try:
            call.done.acquire()
        except BaseException:
            # KeyboardInterrupt and friends cancel the work in the loop too.
            self.loop.call_soon_threadsafe(call.cancel)
            raise
        task = call.task
        assert task is not None  # start() ran before the task's done-callback released us
        result: T = task.result()
        return result

    def _start_incoming(self) -> None:  # in the loop thread
        # Cleared before the deque is read: a call appended after this line is either seen
        # below or finds the flag clear and wakes the loop again.
        self._woken = False
        incoming = self._incoming
        while incoming:
            incoming.popleft().start(self.loop)

    def stop(self, cleanup: Coroutine[Any, Any, None] | None = None) -> None:
        if self.loop.is_closed():
            return
        if self._thread.is_alive():
            with contextlib.suppress(Exception):  # closing is best effort at exit
                asyncio.run_coroutine_threadsafe(_shutdown_work(cleanup), self.loop).result(
                    timeout=5
                )
        elif cleanup is not None:
            cleanup.close()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        self.loop.close()


async def _await(awaitable: Awaitable[T]) -> T:
    return await awaitable


class _Call:
    """One call's task, and the lock its caller waits on until the task is done."""

    __slots__ = ("coro", "done", "task")

    def __init__(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.coro = coro
        self.task: asyncio.Task[Any] | None = None
        self.done = threading.Lock()
        self.done.acquire()

    def start(self, loop: asyncio.AbstractEventLoop) -> None:  # in the loop thread
        self.task = loop.create_task(self.coro)
        self.task.add_done_callback(self._release)

    def _release(self, task: asyncio.Task[Any]) -> None:
        self.done.release()

    def cancel(self) -> None:  # in the loop thread, after the start() it was queued behind
        if self.task is not None:
            self.task.cancel()


async def _shutdown_work(cleanup: Coroutine[Any, Any, None] | None) -> None:
    # Calls and stream pumps still running (other threads' calls, streams the caller
    # abandoned without close()) are cancelled first: their callers get an error instead of
    # waiting forever, and a pump closes its stream's upstream connection as it ends. Then
    # any async generator left, then the client's connection pool.
    me = asyncio.current_task()
    others = [t for t in asyncio.all_tasks() if t is not me]
    for task in others:
        task.cancel()
    if others:
        await asyncio.wait(others, timeout=4)
    try:
        await asyncio.get_running_loop().shutdown_asyncgens()
    finally:
        if cleanup is not None:
            await cleanup


class _End:
    """The last item of a pump's deque: the stream ended, with ``error`` or without."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


class _Pipe:
    """What a stream's pump (loop thread) and its reader (caller's thread) share.

    Deque appends and pops are atomic; the flags are each written by one side at a time, in
    an order that cannot lose a wake-up (see ``ChatStream._wait``).
    """

    __slots__ = ("loop", "paused", "ready", "room", "task", "waiting", "wake")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.ready: deque[Any] = deque()  # the stream's items, then one _End
        self.wake = threading.Event()  # set by the pump when the reader is waiting
        self.waiting = False  # the reader found the deque empty and waits on ``wake``
        self.paused = False  # the pump waits on ``room`` for the reader to catch up
        self.room: asyncio.Event | None = None
        self.task: asyncio.Task[None] | None = None

    def start(self, stream: AsyncEventStream[Any]) -> None:  # in the loop thread
        self.room = asyncio.Event()
        self.task = self.loop.create_task(_pump(stream, self))

    def stop(self) -> None:  # in the loop thread
        if self.task is not None:
            self.task.cancel()

    def notify(self) -> None:
        if self.waiting:
            self.waiting = False
            self.wake.set()


async def _pump(stream: AsyncEventStream[Any], pipe: _Pipe) -> None:
    ready = pipe.ready
    room = pipe.room
    assert room is not None
    end = _End(None)
    try:
        async for chunk in stream:
            ready.append(chunk)
            if pipe.waiting:
                pipe.notify()
            if len(ready) >= HIGH_WATER:
                room.clear()
                pipe.paused = True  # the reader sets ``room`` once it has read half of them
                await room.wait()
    except asyncio.CancelledError:
        end = _End(RuntimeError("this stream was closed (by close() or by closing its Client)"))
        raise
    except Exception as exc:
        end = _End(exc)
    finally:
        try:
            await stream.aclose()  # releases the upstream connection
        finally:
            ready.append(end)
            pipe.notify()


class SyncStream(Generic[T]):
    """An iterator over an async stream's items (chat chunks, Responses events), read ahead
    in the loop thread and handed across in batches; a context manager with ``close()``."""

    __slots__ = ("_done", "_pipe", "_runner", "_stream")

    def __init__(self, stream: AsyncEventStream[T], runner: LoopThread) -> None:
        self._stream = stream
        self._runner = runner
        self._pipe: _Pipe | None = None  # made on the first read: nothing runs before it
        self._done = False

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        pipe = self._pipe
        try:
            item = pipe.ready.popleft()  # type: ignore[union-attr]
        except (IndexError, AttributeError):
            item = self._wait()
        if item.__class__ is _End:
            return self._finish(item)
        if pipe is not None and pipe.paused and len(pipe.ready) <= HIGH_WATER // 2:
            pipe.paused = False
            assert pipe.room is not None
            pipe.loop.call_soon_threadsafe(pipe.room.set)
        return cast("T", item)

    def _wait(self) -> T | _End:
        if self._done:
            raise StopIteration
        pipe = self._pipe
        if pipe is None:
            self._runner.check_usable()
            pipe = self._pipe = _Pipe(self._runner.loop)
            pipe.loop.call_soon_threadsafe(pipe.start, self._stream)
        ready = pipe.ready
        while True:
            # ``waiting`` is set before the deque is looked at again: a chunk appended in
            # between is either seen here or followed by the pump's ``wake.set()``.
            pipe.wake.clear()
            pipe.waiting = True
            if ready:
                pipe.waiting = False
                return cast("T | _End", ready.popleft())
            try:
                while not pipe.wake.wait(1.0):
                    if not self._runner.alive():  # the client was closed from elsewhere
                        self._done = True
                        raise RuntimeError(_CLOSED_MESSAGE)
            except BaseException:
                pipe.waiting = False
                self._cancel()
                raise

    def _finish(self, end: _End) -> T:
        self._done = True
        if self._pipe is not None:
            self._pipe.ready.append(end)  # every later read ends the same way
        if end.error is not None:
            error, end.error = end.error, None
            raise error
        raise StopIteration

    def _cancel(self) -> None:
        pipe = self._pipe
        if pipe is not None:
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                pipe.loop.call_soon_threadsafe(pipe.stop)

    def close(self) -> None:
        """Stop the stream and release its upstream connection (returns once it is)."""
        if self._done:
            return
        self._done = True
        if not self._runner.alive():
            return  # closing the client closed the stream
        pipe = self._pipe
        self._runner.run(self._stream.aclose() if pipe is None else _stop(pipe))
        if pipe is not None:  # what was read ahead is dropped; reads after close() stop
            pipe.ready.clear()
            pipe.ready.append(_End(None))

    def __del__(self) -> None:
        # Dropped without close() (a `for` loop left with break): stop the pump, which closes
        # the upstream connection. Never blocks: this may run in any thread, or at exit.
        try:
            if not self._done:
                self._cancel()
        except Exception:  # nothing to report to at interpreter exit
            pass

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class ChatStream(SyncStream[ChatCompletionChunk]):
    """An iterator of ``ChatCompletionChunk``; a context manager with ``close()``."""

    __slots__ = ()


async def _stop(pipe: _Pipe) -> None:
    task = pipe.task
    if task is None:
        await asyncio.sleep(0)  # start() was scheduled before this: let it run
        task = pipe.task
    if task is not None and not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
