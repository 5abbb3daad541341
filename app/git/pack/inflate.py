"""Bounded zlib inflation of pack entries and loose objects.

Rules:
1. Input is fed in slices of a buffer (an mmap'd pack) or chunks of a file, never as "the
   rest of the pack": zlib would copy any unused remainder.
2. Output is capped at the declared size + 1 with ``max_length``: a stream that inflates to
   more than it declared is caught after one extra byte, never after a bomb has expanded.
3. The stream must end (``eof``) and produce exactly the declared size; a truncated,
   overlong or undecodable stream raises the caller's error class (``CorruptPack`` for packs).
4. A preset dictionary (RFC 1950 §2.2, FLG bit 5 "FDICT") is detected from the header byte.
5. Where a stream ends in its input (``stream_length``) is learnt the same way, by inflating
   it under rules 1-3 and discarding the output: zlib's own end marker and Adler-32 trailer
   (RFC 1950 §2.2) delimit it, so the cost is the object's size, not the pack's.
"""

from __future__ import annotations

import mmap
import zlib
from collections.abc import Iterable, Iterator

from app.git.errors import GitError

_CHUNK = 65536


def has_fdict(stream_start: bytes | memoryview) -> bool:
    """True if the zlib header (CMF, FLG) asks for a preset dictionary (RFC 1950 §2.2)."""
    return len(stream_start) >= 2 and bool(stream_start[1] & 0x20)


def valid_zlib_header(stream_start: bytes | memoryview) -> bool:
    """RFC 1950 §2.2: CM = 8 (deflate), CINFO <= 7, and CMF*256 + FLG a multiple of 31."""
    if len(stream_start) < 2:
        return False
    cmf, flg = stream_start[0], stream_start[1]
    return cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf * 256 + flg) % 31 == 0


def buffer_slices(buf: bytes | mmap.mmap, start: int, end: int, first: int) -> Iterator[bytes]:
    """Slices of ``buf[start:end]``: ``first`` bytes, then 64 KiB at a time."""
    step = max(1, min(first, _CHUNK))
    pos = start
    while pos < end:
        stop = min(pos + step, end)
        yield buf[pos:stop]
        pos = stop
        step = _CHUNK


def first_slice_for(size: int) -> int:
    """A first input slice that usually holds a whole small stream: deflate's worst case is
    the size plus 5 bytes per 16 KiB block plus the 2-byte header and 4-byte Adler-32."""
    return size + 64


def iter_inflate(
    chunks: Iterable[bytes], size: int, out_chunk: int, error: type[GitError], what: str
) -> Iterator[bytes]:
    """Inflate the zlib stream in ``chunks``, yielding at most ``out_chunk`` bytes at a time.

    Raises ``error`` unless the stream ends and produces exactly ``size`` bytes. Output per
    step is bounded by ``out_chunk``, so memory stays bounded whatever the stream says.
    """
    return _inflate(zlib.decompressobj(), chunks, size, max(1, out_chunk), error, what)


def stream_length(chunks: Iterable[bytes], size: int, error: type[GitError], what: str) -> int:
    """How many input bytes the zlib stream at the start of ``chunks`` occupies.

    The stream is inflated with the same bounds as ``iter_inflate`` (output discarded 64 KiB
    at a time) and raises ``error`` unless it ends and produces exactly ``size`` bytes.
    Reading ``chunks`` stops as soon as zlib reports the end of the stream.
    """
    inflater = zlib.decompressobj()
    fed = 0

    def counted() -> Iterator[bytes]:
        nonlocal fed
        for chunk in chunks:
            fed += len(chunk)
            yield chunk

    for _ in _inflate(inflater, counted(), size, _CHUNK, error, what):
        pass
    # At the end of the stream zlib moves the input it did not need to ``unused_data``
    # (nothing is fed after that), so the stream is everything fed but that remainder.
    return fed - len(inflater.unused_data)


def _inflate(
    inflater: zlib._Decompress,
    chunks: Iterable[bytes],
    size: int,
    out_chunk: int,
    error: type[GitError],
    what: str,
) -> Iterator[bytes]:
    produced = 0
    try:
        for chunk in chunks:
            data = chunk
            while data:
                room = min(out_chunk, size - produced + 1)
                piece = inflater.decompress(data, room)
                produced += len(piece)
                if produced > size:
                    raise error(f"{what}: stream inflates to more than {size} bytes")
                if piece:
                    yield piece
                if inflater.eof:
                    break
                data = inflater.unconsumed_tail
            if inflater.eof:
                break
        if not inflater.eof:
            # The input ran out: flush whatever remains, then insist on a proper end.
            piece = inflater.flush()
            produced += len(piece)
            if produced > size:
                raise error(f"{what}: stream inflates to more than {size} bytes")
            if piece:
                yield piece
            if not inflater.eof:
                raise error(f"{what}: zlib stream is truncated")
    except zlib.error as exc:
        raise error(f"{what}: zlib stream is corrupt: {exc}") from exc
    if produced != size:
        raise error(f"{what}: stream inflates to {produced} bytes, declared {size}")


def inflate_exact(chunks: Iterable[bytes], size: int, error: type[GitError], what: str) -> bytes:
    """Inflate a whole stream that must produce exactly ``size`` bytes."""
    return b"".join(iter_inflate(chunks, size, max(size, 1), error, what))


def inflate_prefix(chunks: Iterable[bytes], want: int, error: type[GitError], what: str) -> bytes:
    """The first ``want`` inflated bytes (fewer only if the stream ends sooner)."""
    inflater = zlib.decompressobj()
    out = bytearray()
    try:
        for chunk in chunks:
            data = chunk
            while data and len(out) < want:
                out += inflater.decompress(data, want - len(out))
                if inflater.eof:
                    return bytes(out)
                data = inflater.unconsumed_tail
            if len(out) >= want:
                return bytes(out)
    except zlib.error as exc:
        raise error(f"{what}: zlib stream is corrupt: {exc}") from exc
    return bytes(out)
