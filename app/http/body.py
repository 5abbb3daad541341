"""Response bodies as lists of segments, sent in bounded chunks with back-pressure.

Rules:
- A body is a sequence of segments whose lengths are known before the first byte is sent
  (we always send Content-Length, never chunked framing: http-semantics.md §7 item 15).
  ``emit(send, start, stop)`` sends any slice of it, so full bodies, single ranges and the
  parts of ``multipart/byteranges`` share one code path.
- At most ``WHOLE`` bytes go into one ``http.response.body`` message, and bodies larger than
  that go in ``CHUNK``-sized ones: memory per response is bounded whatever the blob's size.
  ``await send`` is the back-pressure: uvicorn blocks it while the transport's write buffer
  is above its high-water mark.
- Slices of memoryviews (the mmap'd pack, a cache file) are handed to the server without a
  copy; uvicorn's transports accept any bytes-like object.
- Inflating for identity runs in a worker thread one step at a time, and only as far as the
  requested slice needs: an identity Range costs an inflate up to its end, no more. Once
  an inflated copy of the blob exists (made in the background), an answer still inflating
  sends the rest from the copy instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import anyio
import anyio.to_thread

from app.http.gzipframe import Inflater

CHUNK = 256 * 1024
# A slice up to this size goes out in one message. uvicorn pauses a sender between messages
# while the transport holds more than 64 KiB, so every extra message of a medium-sized body
# costs a drain wait (measured: a 500 KB deflate body at 0.64x a single-message bare app in
# 256 KiB chunks, 0.93x in one); above it, chunks keep memory per response bounded.
WHOLE = 1024 * 1024

Send = Callable[[dict[str, object]], Awaitable[None]]


class Segment(Protocol):
    """A run of body bytes of known length that can send any slice of itself."""

    def __len__(self) -> int:
        """Number of bytes in the segment."""
        ...

    async def emit(self, send: Send, start: int, stop: int, last: bool) -> None:
        """Send bytes ``[start, stop)``; the final message ends the body when ``last``."""
        ...


async def send_chunks(
    send: Send, data: bytes | memoryview, start: int, stop: int, last: bool
) -> None:
    """Send ``data[start:stop]`` in ``CHUNK``-sized messages; the final one ends the body
    when ``last`` (one message fewer per answer than a separate empty end message)."""
    view = data if isinstance(data, memoryview) else memoryview(data)
    step = stop - start if stop - start <= WHOLE else CHUNK
    pos = start
    while True:
        end = min(pos + step, stop)
        more = end < stop or not last
        await send({"type": "http.response.body", "body": view[pos:end], "more_body": more})
        if end >= stop:
            return
        pos = end


class Static:
    """Bytes already in memory or mapped (content, a pack slice, a cache file)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes | memoryview) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    async def emit(self, send: Send, start: int, stop: int, last: bool) -> None:
        """Send the slice straight from memory."""
        await send_chunks(send, self.data, start, stop, last)


class Deferred:
    """A short run of bytes computed only when first needed (the gzip trailer's CRC-32)."""

    __slots__ = ("_length", "_make")

    def __init__(self, length: int, make: Callable[[], Awaitable[bytes]]) -> None:
        self._length = length
        self._make = make

    def __len__(self) -> int:
        return self._length

    async def emit(self, send: Send, start: int, stop: int, last: bool) -> None:
        """Compute the bytes, then send the slice."""
        data = await self._make()
        await send({"type": "http.response.body", "body": data[start:stop], "more_body": not last})


class Inflating:
    """The content of a zlib stream, inflated while sent (identity of a large blob).

    ``on_complete(crc)`` is called after a pass that inflated the whole stream and proved it,
    so the first identity response also yields the blob's CRC-32. ``copy()`` returns the
    inflated copy of the content once one exists (checked before every step), else None.
    """

    __slots__ = ("_stream", "_size", "_limiter", "_on_complete", "_copy")

    def __init__(
        self,
        stream: memoryview,
        size: int,
        limiter: anyio.CapacityLimiter,
        on_complete: Callable[[int], None] | None,
        copy: Callable[[], memoryview | None],
    ) -> None:
        self._stream = stream
        self._size = size
        self._limiter = limiter
        self._on_complete = on_complete
        self._copy = copy

    def __len__(self) -> int:
        return self._size

    async def emit(self, send: Send, start: int, stop: int, last: bool) -> None:
        """Inflate from the start, discarding up to ``start``, sending up to ``stop``."""
        inflater = Inflater(self._stream, self._size)
        read = inflater.read
        pos = 0
        while pos < stop:
            copy = self._copy()
            if copy is not None:
                # Bytes before ``pos`` (or ``start``) are already sent or not wanted.
                await send_chunks(send, copy, max(pos, start), stop, last)
                return
            chunk = await anyio.to_thread.run_sync(read, CHUNK, limiter=self._limiter)
            if not chunk:
                break
            end = pos + len(chunk)
            final = end >= stop
            if final and stop == self._size:
                # Reading past the last byte checks the Adler-32 and the stream's extent
                # before the answer is completed: a bad stream aborts it instead.
                await anyio.to_thread.run_sync(read, CHUNK, limiter=self._limiter)
                if self._on_complete is not None:
                    self._on_complete(inflater.crc)
            if end > start:
                lo = max(start - pos, 0)
                hi = min(stop, end) - pos
                body = chunk if lo == 0 and hi == len(chunk) else memoryview(chunk)[lo:hi]
                more = not (final and last)
                await send({"type": "http.response.body", "body": body, "more_body": more})
            pos = end


class Body:
    """A representation's bytes: consecutive segments with a total length."""

    __slots__ = ("segments", "length")

    def __init__(self, segments: Sequence[Segment]) -> None:
        self.segments = segments
        self.length = sum(len(s) for s in segments)

    async def emit(self, send: Send, start: int, stop: int, last: bool = True) -> None:
        """Send bytes ``[start, stop)`` of the whole body; end the answer with them if
        ``last`` (multipart parts pass False: their closing delimiter follows)."""
        if start >= stop:
            if last:
                await send(END)
            return
        base = 0
        for segment in self.segments:
            size = len(segment)
            lo, hi = max(start - base, 0), min(stop - base, size)
            base += size
            if lo < hi:
                await segment.emit(send, lo, hi, last and base >= stop)
            if base >= stop:
                break


END = {"type": "http.response.body", "body": b"", "more_body": False}
