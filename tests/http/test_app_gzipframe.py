"""gzip framing around stored zlib streams, and the verifying inflater (RFC 1950/1952)."""

from __future__ import annotations

import gzip
import random
import zlib
from collections.abc import Callable

import pytest

from app.http.gzipframe import Inflater, StreamMismatch, gzip_length, gzip_parts

CONTENTS = [
    b"",
    b"x",
    b"hello world\n" * 1000,
    random.Random(1).randbytes(300_000),  # incompressible: stored deflate blocks
    bytes(range(256)) * 4000,
]


@pytest.mark.parametrize("content", CONTENTS, ids=lambda c: str(len(c)))
@pytest.mark.parametrize("level", [0, 1, 6, 9])
def test_reframed_stream_is_the_exact_content(content: bytes, level: int) -> None:
    stream = memoryview(zlib.compress(content, level))
    inflater = Inflater(stream, len(content))
    assert inflater.read_all() == content
    member = b"".join(gzip_parts(stream, inflater.crc, len(content)))
    assert len(member) == gzip_length(len(stream))
    assert gzip.decompress(member) == content
    assert inflater.crc == zlib.crc32(content)


def test_read_is_bounded() -> None:
    content = b"abc" * 500_000
    inflater = Inflater(zlib.compress(content), len(content))
    sizes = []
    while chunk := inflater.read(65536):
        sizes.append(len(chunk))
    assert max(sizes) <= 65536
    assert sum(sizes) == len(content)


@pytest.mark.parametrize(
    ("mangle", "size_delta"),
    [
        (lambda s: s[:-1], 0),  # truncated Adler-32
        (lambda s: s[: len(s) // 2], 0),  # truncated deflate data
        (lambda s: s + b"\0", 0),  # a byte past the end of the stream
        (lambda s: s[:-4] + bytes(4), 0),  # wrong Adler-32
        (lambda s: s, 1),  # declared size too large
        (lambda s: s, -1),  # declared size too small
        (lambda s: b"\x00\x00" + s[2:], 0),  # not a zlib header
    ],
)
def test_mismatches_are_detected(mangle: Callable[[bytes], bytes], size_delta: int) -> None:
    content = b"the content of a blob\n" * 300
    stream = mangle(zlib.compress(content))
    with pytest.raises(StreamMismatch):
        Inflater(stream, len(content) + size_delta).read_all()
