"""gzip (RFC 1952) framing around a zlib stream (RFC 1950), without re-compressing.

A zlib stream is a 2-byte header (CMF, FLG), raw deflate data (RFC 1951) and a 4-byte
Adler-32 of the content. A gzip member is a 10-byte header, the same raw deflate data,
then CRC-32 and ISIZE (content length mod 2**32), both little-endian (RFC 1952 §2.3.1).
So ``gzip = HEADER + zlib[2:-4] + trailer(crc, size)``: only the CRC-32 of the content
needs one inflate, ever.

Rules: streams with FDICT set (RFC 1950 §2.2) have a 4-byte dictionary id after the header
and cannot be reframed; the engine never hands those out. ``ZlibChecker`` is the single
place where a stream is proven to match its blob: it inflates once, in bounded steps, and
rejects a stream whose content size differs, whose Adler-32 fails, or that ends before or
after the extent we would send.
"""

from __future__ import annotations

import struct
import zlib

# ID1 ID2 CM=8 (deflate) FLG=0 MTIME=0 (none: the content is what it is) XFL=0 OS=255
# (unknown), RFC 1952 §2.3.
HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
ZLIB_HEADER_LEN = 2
ZLIB_TRAILER_LEN = 4
# Bytes gzip adds around the raw deflate data, minus what it drops from the zlib stream.
OVERHEAD = len(HEADER) + 8 - ZLIB_HEADER_LEN - ZLIB_TRAILER_LEN


def gzip_length(zlib_length: int) -> int:
    """Length of the gzip member built from a zlib stream of ``zlib_length`` bytes."""
    return zlib_length + OVERHEAD


def trailer(crc: int, size: int) -> bytes:
    """CRC-32 and ISIZE of the content, little-endian (RFC 1952 §2.3.1)."""
    return struct.pack("<II", crc & 0xFFFFFFFF, size & 0xFFFFFFFF)


def deflate_body(stream: memoryview) -> memoryview:
    """The raw deflate data inside a zlib stream (no copy)."""
    return stream[ZLIB_HEADER_LEN : len(stream) - ZLIB_TRAILER_LEN]


def gzip_parts(stream: memoryview, crc: int, size: int) -> tuple[bytes, memoryview, bytes]:
    """The three pieces of the gzip member: header, raw deflate (a view), trailer."""
    return HEADER, deflate_body(stream), trailer(crc, size)


class StreamMismatch(Exception):
    """The zlib stream does not inflate to exactly the blob it should hold."""


# Input is fed to zlib in pieces this big: ``decompress`` copies any unconsumed input into
# ``unconsumed_tail``, so feeding a whole 50 MB stream at once would copy it again and again.
_IN_STEP = 64 * 1024


class Inflater:
    """Inflate a zlib stream in bounded steps, computing the content's CRC-32 and proving it.

    ``read`` returns at most ``max_out`` bytes of content per call, so memory stays bounded
    whatever the blob's size. The empty result marks the end, and is only returned once the
    stream is proven to be exactly the blob: Adler-32 verified (zlib checks it at end of
    stream, RFC 1950 §2.2), inflated size equal to ``expected_size``, and no byte of the
    extent left over — the same bytes are then safe to pass through as deflate or gzip.
    """

    __slots__ = ("_src", "_pos", "_d", "crc", "size", "_expected")

    def __init__(self, stream: bytes | memoryview, expected_size: int) -> None:
        self._src = memoryview(stream)
        self._pos = 0
        self._d = zlib.decompressobj()
        self.crc = 0
        self.size = 0
        self._expected = expected_size

    def read(self, max_out: int) -> bytes:
        """Up to ``max_out`` content bytes; ``b""`` once the whole stream is verified."""
        parts: list[bytes] = []
        got = 0
        d = self._d
        while got < max_out and not d.eof:
            if d.unconsumed_tail:
                data: bytes | memoryview = d.unconsumed_tail
            elif self._pos < len(self._src):
                data = self._src[self._pos : self._pos + _IN_STEP]
                self._pos += len(data)
            else:
                raise StreamMismatch("zlib stream truncated")
            try:
                out = d.decompress(data, max_out - got)
            except zlib.error as exc:
                raise StreamMismatch(f"zlib: {exc}") from None
            if out:
                parts.append(out)
                got += len(out)
        chunk = parts[0] if len(parts) == 1 else b"".join(parts)
        self.crc = zlib.crc32(chunk, self.crc)
        self.size += len(chunk)
        if self.size > self._expected:
            raise StreamMismatch(f"inflates past the declared size {self._expected}")
        if d.eof and not chunk:
            self._check_end()
        return chunk

    def _check_end(self) -> None:
        if d_unused := self._d.unused_data:
            raise StreamMismatch(f"{len(d_unused)} bytes after the end of the zlib stream")
        if self._pos < len(self._src):
            raise StreamMismatch(f"{len(self._src) - self._pos} bytes after the zlib stream")
        if self.size != self._expected:
            raise StreamMismatch(f"inflated {self.size} bytes, expected {self._expected}")

    def read_all(self) -> bytes:
        """The whole verified content (for blobs small enough to hold in memory)."""
        parts = []
        while chunk := self.read(1 << 20):
            parts.append(chunk)
        return b"".join(parts)
