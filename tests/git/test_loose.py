"""Loose objects: parsing, streaming with bounded pieces, and every malformed header."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.git import loose
from app.git.errors import CorruptObject
from app.git.objtype import BLOB, COMMIT, TAG, TREE
from tests.git.conftest import RepoFactory
from tests.git.fixtures import cat_file_all, object_id


def _write(objects: Path, raw: bytes, oid: bytes) -> Path:
    path = loose.loose_path(objects, oid)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(zlib.compress(raw))
    return path


@pytest.mark.parametrize(("kind", "name"), [(COMMIT, b"commit"), (TREE, b"tree"),
                                            (BLOB, b"blob"), (TAG, b"tag")])
def test_round_trip(tmp_path: Path, kind: int, name: bytes) -> None:
    content = b"payload\0with nul\n" * 3
    path = _write(tmp_path, name + b" %d\0" % len(content) + content, object_id(kind, content))
    assert loose.read(path, 1 << 20) == (kind, content)
    assert loose.read_header(path, 1 << 20) == (kind, len(content))
    assert loose.from_bytes(path.read_bytes(), 1 << 20) == (kind, content)


def test_streaming_is_bounded(tmp_path: Path) -> None:
    content = bytes(range(256)) * 2000  # 512000 bytes, spans several 64 KiB file chunks
    oid = object_id(BLOB, content)
    raw = b"blob %d\0" % len(content) + content
    path = loose.loose_path(tmp_path, oid)
    path.parent.mkdir(parents=True)
    path.write_bytes(zlib.compress(raw, 0))  # stored blocks: the file is bigger than a chunk
    kind, size, pieces = loose.open_stream(path, 1000, 1 << 20)
    assert (kind, size) == (BLOB, len(content))
    got = list(pieces)
    assert b"".join(got) == content and max(map(len, got)) <= 1000


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"blob 3\0abcd", "more than"),
        (b"blob 5\0abcd", "inflates to 11 bytes, declared 12"),
        (b"blob\0abcd", "malformed"),
        (b"blob x\0abcd", "size"),
        (b"blob -1\0", "size"),
        (b"blob \0", "size"),
        (b"tree1 3\0abc", "unknown type"),
        (b"blob 3abc", "malformed"),
        (b"blob " + b"9" * 25 + b"\0", "malformed|size"),
        (b"blob 99999999999\0", "cap"),
    ],
)
def test_malformed_headers(tmp_path: Path, raw: bytes, match: str) -> None:
    path = _write(tmp_path, raw, b"\x01" * 20)
    with pytest.raises(CorruptObject, match=match):
        loose.read(path, 1 << 20)


def test_not_zlib_and_truncated(tmp_path: Path) -> None:
    path = loose.loose_path(tmp_path, b"\x02" * 20)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not zlib")
    with pytest.raises(CorruptObject):
        loose.read(path, 1 << 20)
    path.write_bytes(zlib.compress(b"blob 1000\0" + b"a" * 1000)[:-10])
    with pytest.raises(CorruptObject):
        loose.read(path, 1 << 20)
    path.write_bytes(b"")
    with pytest.raises(CorruptObject):
        loose.read_header(path, 1 << 20)


def test_missing_file_passes_through(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        loose.read(tmp_path / "nope", 10)


def test_find_prefix(git_repos: RepoFactory) -> None:
    repo = git_repos("loose")
    ids = sorted(cat_file_all(repo))
    objects = repo / "objects"
    for oid in ids[::50]:
        text = oid.hex()
        for n in (1, 2, 3, 6, 40):
            want = [o for o in ids if o.hex().startswith(text[:n])]
            assert loose.find_prefix(objects, text[:n], 20, 1000) == want
    assert len(loose.find_prefix(objects, "a", 20, 2)) == 2


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=80))
def test_arbitrary_inflated_bytes_raise_only_corrupt_object(raw: bytes) -> None:
    try:
        kind, content = loose.from_bytes(zlib.compress(raw), 1 << 16)
    except CorruptObject:
        return
    assert raw.endswith(content) and kind in (1, 2, 3, 4)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=80))
def test_arbitrary_file_bytes_raise_only_corrupt_object(raw: bytes) -> None:
    try:
        loose.from_bytes(raw, 1 << 16)
    except CorruptObject:
        pass
