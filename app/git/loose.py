"""Loose objects: ``objects/xx/<rest>`` = zlib(``<type> SP <size> NUL`` + content).

Format: git@master:Documentation/gitformat-loose.adoc; header parsing follows
git:object-file.c ``parse_loose_header`` (type word, decimal size, NUL).

Rules:
1. Files are read in 64 KiB chunks and inflated with bounded output: memory does not follow
   a size the file declares, and a 1 GiB loose blob can be streamed.
2. The header must name one of the four object types and a decimal size (at most 20 digits)
   no larger than the caller's ``max_size``; the stream must end exactly after that many
   content bytes. Anything else raises ``CorruptObject`` naming the file.
3. A missing file is ``None``/``ObjectNotFound`` to callers: a concurrent ``git gc`` may
   prune a loose object between listing and reading it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from app.git.errors import CorruptObject
from app.git.objtype import type_code
from app.git.pack.inflate import inflate_prefix, iter_inflate

_CHUNK = 65536
# "commit" + SP + 20 digits + NUL is 28 bytes; read a little more to see the NUL.
_HEADER_MAX = 32


def loose_path(objects_dir: Path, oid: bytes) -> Path:
    """Where the loose object ``oid`` would be stored."""
    text = oid.hex()
    return objects_dir / text[:2] / text[2:]


class _FileChunks:
    """64 KiB chunks of one open file; the first chunk is read at once so the header can be
    parsed from it, and the same descriptor then streams the rest (a concurrent prune cannot
    pull the file away between header and content). Closed at EOF or when dropped."""

    def __init__(self, path: Path) -> None:
        self._fh = open(path, "rb")  # noqa: SIM115 - closed at EOF, by close() or __del__
        self.first = self._fh.read(_CHUNK)
        self._started = False

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if not self._started:
            self._started = True
            if self.first:
                return self.first
        chunk = self._fh.read(_CHUNK) if not self._fh.closed else b""
        if not chunk:
            self.close()
            raise StopIteration
        return chunk

    def close(self) -> None:
        self._fh.close()

    def __del__(self) -> None:
        fh = getattr(self, "_fh", None)  # absent if open() itself failed
        if fh is not None:
            fh.close()


def _bytes_chunks(buf: bytes) -> Iterator[bytes]:
    for start in range(0, len(buf), _CHUNK):
        yield buf[start : start + _CHUNK]


def parse_header(head: bytes, what: str, max_size: int) -> tuple[int, int, int]:
    """Decode ``<type> <size>\\0`` at the start of inflated ``head``:
    ``(type code, size, header length)``."""
    nul = head.find(b"\0", 0, _HEADER_MAX)
    space = head.find(b" ", 0, nul)
    if nul < 0 or space < 0:
        raise CorruptObject(f"{what}: loose object header is malformed")
    kind = type_code(head[:space])
    digits = head[space + 1 : nul]
    if kind is None:
        raise CorruptObject(f"{what}: loose object has unknown type {head[:space]!r}")
    if not digits or len(digits) > 20 or not digits.isdigit():
        raise CorruptObject(f"{what}: loose object size {digits!r} is malformed")
    size = int(digits)
    if size > max_size:
        raise CorruptObject(f"{what}: loose object size {size} exceeds the cap {max_size}")
    return kind, size, nul + 1


def _open(
    first: bytes,
    chunks: Iterator[bytes],
    what: str,
    max_size: int,
    chunk_size: int,
) -> tuple[int, int, Iterator[bytes]]:
    # Two passes: the header from the first chunk (a few bytes inflated), then the whole
    # stream, whose declared total is known only once the header is parsed.
    head = inflate_prefix(iter((first,)), _HEADER_MAX, CorruptObject, what)
    kind, size, hlen = parse_header(head, what, max_size)
    pieces = iter_inflate(chunks, hlen + size, chunk_size, CorruptObject, what)
    return kind, size, _skip(pieces, hlen)


def _skip(pieces: Iterator[bytes], count: int) -> Iterator[bytes]:
    for piece in pieces:
        if count:
            cut = min(count, len(piece))
            piece = piece[cut:]
            count -= cut
        if piece:
            yield piece


def open_stream(path: Path, chunk_size: int, max_size: int) -> tuple[int, int, Iterator[bytes]]:
    """``(type, size, content pieces)`` of the loose object at ``path``; the content is
    inflated lazily, at most ``chunk_size`` bytes per piece. ``FileNotFoundError`` passes."""
    chunks = _FileChunks(path)
    try:
        return _open(chunks.first, chunks, os.fspath(path), max_size, chunk_size)
    except BaseException:
        chunks.close()
        raise


def read_header(path: Path, max_size: int) -> tuple[int, int]:
    """``(type, size)`` of the loose object at ``path``, inflating only its header."""
    with open(path, "rb") as fh:
        first = fh.read(_CHUNK)
    head = inflate_prefix(iter((first,)), _HEADER_MAX, CorruptObject, os.fspath(path))
    kind, size, _ = parse_header(head, os.fspath(path), max_size)
    return kind, size


def read(path: Path, max_size: int) -> tuple[int, bytes]:
    """``(type, content)`` of the loose object at ``path``."""
    # The output bound per step is the declared size + 1 anyway (inflate.py rule 2).
    kind, _size, pieces = open_stream(path, max_size, max_size)
    return kind, b"".join(pieces)


def from_bytes(buf: bytes, max_size: int) -> tuple[int, bytes]:
    """``(type, content)`` of a loose object file's bytes."""
    kind, _size, pieces = _open(buf[:_CHUNK], _bytes_chunks(buf), "<loose>", max_size, max_size)
    return kind, b"".join(pieces)


def find_prefix(objects_dir: Path, hex_prefix: str, hash_len: int, limit: int) -> list[bytes]:
    """Loose ids whose hex starts with ``hex_prefix`` (lowercase, 1+ digits), at most ``limit``."""
    if len(hex_prefix) >= 2:
        dirs = [hex_prefix[:2]]
    else:
        dirs = [hex_prefix + c for c in "0123456789abcdef"]
    rest_len = 2 * hash_len - 2
    found: list[bytes] = []
    for name in dirs:
        try:
            entries = sorted(os.listdir(objects_dir / name))
        except OSError:
            continue
        tail = hex_prefix[2:]
        for entry in entries:
            if len(entry) != rest_len or not entry.startswith(tail):
                continue
            try:
                found.append(bytes.fromhex(name + entry))
            except ValueError:
                continue
            if len(found) >= limit:
                return found
    return found
