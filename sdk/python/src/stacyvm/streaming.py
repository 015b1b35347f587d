"""Streamed responses: NDJSON exec and console frames, server-sent events.

The NDJSON parser skips blank keep-alive lines and anything that is not a JSON
object. Exec and log streams end with an exit frame, kept in ``.exit``; a
stream that ends without one raises :class:`~stacyvm.exceptions.StreamError`.
"""

from __future__ import annotations

import json
from typing import (
    Any,
    AsyncIterator,
    Dict,
    Generic,
    Iterator,
    List,
    Optional,
    TypeVar,
)

import httpx

from stacyvm.exceptions import StreamError
from stacyvm.models import Event, ExecExit, StreamChunk

__all__ = [
    "StreamChunk",
    "ExecExit",
    "parse_frame",
    "iter_ndjson",
    "ExecStream",
    "AsyncExecStream",
    "LogStream",
    "AsyncLogStream",
    "EventStream",
    "AsyncEventStream",
    "SSEParser",
]

T = TypeVar("T")
_S = TypeVar("_S", bound="_FrameStream[Any]")
_AS = TypeVar("_AS", bound="_AsyncFrameStream[Any]")


def parse_frame(line: str) -> Optional[Dict[str, Any]]:
    """Decode one NDJSON line; ``None`` for blank keep-alives and non-JSON lines."""
    line = line.strip()
    if not line:
        return None
    try:
        frame = json.loads(line)
    except ValueError:
        return None
    return frame if isinstance(frame, dict) else None


def _chunk(frame: Dict[str, Any]) -> StreamChunk:
    return StreamChunk(stream=str(frame.get("stream", "stdout")), data=str(frame.get("data", "")))


def iter_ndjson(response: httpx.Response) -> Iterator[StreamChunk]:
    """Iterate the frames of an NDJSON response as chunks (0.1.x helper; includes the exit frame)."""
    for line in response.iter_lines():
        frame = parse_frame(line)
        if frame is not None:
            yield _chunk(frame)


class _FrameStream(Generic[T]):
    """Items of an NDJSON stream whose last frame is ``{"stream":"exit",...}``."""

    _what = "stream"

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self.exit: Optional[ExecExit] = None
        """The final frame, once the stream has ended (``None`` before)."""

    def _item(self, frame: Dict[str, Any]) -> Optional[T]:
        raise NotImplementedError

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        for line in self._lines:
            frame = parse_frame(line)
            if frame is None:
                continue
            if frame.get("stream") == "exit":
                self.exit = ExecExit.from_dict(frame)
                self.close()
                break
            item = self._item(frame)
            if item is not None:
                return item
        if self.exit is None:
            raise StreamError(f"{self._what} ended without an exit frame")
        raise StopIteration

    def wait(self) -> ExecExit:
        """Read (and drop) the rest of the stream; return its exit frame."""
        for _ in self:
            pass
        assert self.exit is not None
        return self.exit

    def close(self) -> None:
        """Close the underlying response (safe to call more than once)."""
        close = getattr(self._lines, "close", None)
        if close is not None:
            close()

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()



class _AsyncFrameStream(Generic[T]):
    """Async twin of :class:`_FrameStream`."""

    _what = "stream"

    def __init__(self, lines: AsyncIterator[str]) -> None:
        self._lines = lines
        self.exit: Optional[ExecExit] = None

    def _item(self, frame: Dict[str, Any]) -> Optional[T]:
        raise NotImplementedError

    def __aiter__(self) -> AsyncIterator[T]:
        return self

    async def __anext__(self) -> T:
        async for line in self._lines:
            frame = parse_frame(line)
            if frame is None:
                continue
            if frame.get("stream") == "exit":
                self.exit = ExecExit.from_dict(frame)
                await self.aclose()
                break
            item = self._item(frame)
            if item is not None:
                return item
        if self.exit is None:
            raise StreamError(f"{self._what} ended without an exit frame")
        raise StopAsyncIteration

    async def wait(self) -> ExecExit:
        """Read (and drop) the rest of the stream; return its exit frame."""
        async for _ in self:
            pass
        assert self.exit is not None
        return self.exit

    async def aclose(self) -> None:
        """Close the underlying response (safe to call more than once)."""
        aclose = getattr(self._lines, "aclose", None)
        if aclose is not None:
            await aclose()

    async def __aenter__(self: _AS) -> _AS:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()



class ExecStream(_FrameStream[StreamChunk]):
    """Output of a streamed exec: iterate for :class:`StreamChunk`\\ s, then read ``exit``.

    Example::

        stream = sandbox.exec_stream("make test")
        for chunk in stream:
            print(chunk.data, end="")
        print("exit code", stream.exit.exit_code)
    """

    _what = "exec stream"

    def _item(self, frame: Dict[str, Any]) -> Optional[StreamChunk]:
        return _chunk(frame)


class AsyncExecStream(_AsyncFrameStream[StreamChunk]):
    """Async twin of :class:`ExecStream` (``async for chunk in stream``)."""

    _what = "exec stream"

    def _item(self, frame: Dict[str, Any]) -> Optional[StreamChunk]:
        return _chunk(frame)


class LogStream(_FrameStream[str]):
    """Followed console log: yields lines until the sandbox is destroyed (then ``exit`` is set)."""

    _what = "log stream"

    def _item(self, frame: Dict[str, Any]) -> Optional[str]:
        return str(frame.get("data", ""))


class AsyncLogStream(_AsyncFrameStream[str]):
    """Async twin of :class:`LogStream`."""

    _what = "log stream"

    def _item(self, frame: Dict[str, Any]) -> Optional[str]:
        return str(frame.get("data", ""))


class SSEParser:
    """Incremental parser for ``text/event-stream`` lines; yields :class:`Event`\\ s.

    Comments (``: ping``), ``retry:`` and non-JSON ``data`` are skipped.
    """

    def __init__(self) -> None:
        self._data: List[str] = []
        self.last_event_id: Optional[str] = None

    def feed(self, line: str) -> Optional[Event]:
        """Take one line (without its newline); return an event when one is complete."""
        line = line.rstrip("\r\n")
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "id":
            self.last_event_id = value
        return None

    def _dispatch(self) -> Optional[Event]:
        if not self._data:
            return None
        payload = "\n".join(self._data)
        self._data = []
        try:
            data = json.loads(payload)
        except ValueError:
            return None
        return Event.from_dict(data) if isinstance(data, dict) else None


class EventStream:
    """Server-sent events of ``GET /events``; endless, so ``close()`` (or ``with``) when done."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self._parser = SSEParser()

    @property
    def last_event_id(self) -> Optional[str]:
        """ID of the last event received, to resume with ``last_event_id=``."""
        return self._parser.last_event_id

    def __iter__(self) -> Iterator[Event]:
        return self

    def __next__(self) -> Event:
        for line in self._lines:
            event = self._parser.feed(line)
            if event is not None:
                return event
        raise StopIteration

    def close(self) -> None:
        close = getattr(self._lines, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncEventStream:
    """Async twin of :class:`EventStream`."""

    def __init__(self, lines: AsyncIterator[str]) -> None:
        self._lines = lines
        self._parser = SSEParser()

    @property
    def last_event_id(self) -> Optional[str]:
        return self._parser.last_event_id

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        async for line in self._lines:
            event = self._parser.feed(line)
            if event is not None:
                return event
        raise StopAsyncIteration

    async def aclose(self) -> None:
        aclose = getattr(self._lines, "aclose", None)
        if aclose is not None:
            await aclose()

    async def __aenter__(self) -> AsyncEventStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
