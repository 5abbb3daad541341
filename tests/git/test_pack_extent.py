"""Entry extents found by inflating one entry (``stream_length``, ``PackFile.inflated_end``)
agree with the pack order on git-built packs, stay bounded on bad streams, and are what
``stored_stream(build_order=False)`` uses while a pack has no order (a server while
``prepare`` builds it in another thread)."""

from __future__ import annotations

import contextlib
import struct
import threading
import zlib
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.git.errors import CorruptIndex, CorruptPack
from app.git.objtype import BLOB
from app.git.odb import ObjectDatabase
from app.git.pack import file as pack_file
from app.git.pack.file import PackFile
from app.git.pack.inflate import stream_length
from app.git.pack.revindex import RevIndex
from tests.git.conftest import RepoFactory
from tests.git.fixtures import (
    cat_file_all,
    craft_idx_v2,
    craft_pack,
    hash_len_of,
    pack_entry,
    pack_files,
)

CAP = 1 << 40


def _slices(data: bytes, cuts: list[int]) -> Iterator[bytes]:
    start = 0
    for cut in sorted(set(cuts)):
        if start < cut < len(data):
            yield data[start:cut]
            start = cut
    yield data[start:]


# -- the pure helper ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "content", [b"", b"x", b"hello world\n" * 50, bytes(range(256)) * 400], ids=len
)
def test_stream_length_at_every_split(content: bytes) -> None:
    stream = zlib.compress(content)
    data = stream + b"NEXT ENTRY" + zlib.compress(b"other")
    for cut in range(1, len(stream) + 3):
        assert stream_length(_slices(data, [cut]), len(content), CorruptPack, "t") == len(stream)


def test_stream_length_reads_no_chunk_past_the_stream() -> None:
    stream = zlib.compress(b"abc" * 1000)

    def chunks() -> Iterator[bytes]:
        yield stream[:10]
        yield stream[10:] + b"tail"
        raise AssertionError("read past the end of the stream")

    assert stream_length(chunks(), 3000, CorruptPack, "t") == len(stream)


@pytest.mark.parametrize(
    ("data", "size", "match"),
    [
        (zlib.compress(b"abc")[:-1], 3, "truncated"),
        (zlib.compress(b"abcd"), 3, "more than 3"),
        (zlib.compress(b"ab"), 3, "2 bytes, declared 3"),
        (b"\x78\x9c\xff\xff\xff\xff", 3, "corrupt"),
        (b"", 0, "truncated"),
    ],
)
def test_stream_length_rejects_bad_streams(data: bytes, size: int, match: str) -> None:
    with pytest.raises(CorruptPack, match=match):
        stream_length(iter([data] if data else []), size, CorruptPack, "t")


def test_stream_length_stops_a_bomb_after_one_extra_byte() -> None:
    bomb = zlib.compress(b"\0" * (64 << 20), 9)
    fed: list[int] = []

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(bomb), 4096):
            fed.append(start)
            yield bomb[start : start + 4096]

    with pytest.raises(CorruptPack, match="more than 100"):
        stream_length(chunks(), 100, CorruptPack, "t")
    assert len(fed) == 1  # the declared size was exceeded inside the first slice


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=3000),
    st.integers(0, 9),
    st.binary(max_size=40),
    st.lists(st.integers(1, 3100), max_size=6),
)
def test_stream_length_is_the_stream(
    content: bytes, level: int, tail: bytes, cuts: list[int]
) -> None:
    stream = zlib.compress(content, level)
    found = stream_length(_slices(stream + tail, cuts), len(content), CorruptPack, "t")
    assert found == len(stream)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.integers(0, 1000), st.lists(st.integers(1, 300), max_size=4))
def test_arbitrary_bytes_give_a_checked_length_or_corrupt_pack(
    data: bytes, size: int, cuts: list[int]
) -> None:
    try:
        length = stream_length(_slices(data, cuts), size, CorruptPack, "t")
    except CorruptPack:
        return
    inflater = zlib.decompressobj()
    assert len(inflater.decompress(data[:length])) == size and inflater.eof
    assert inflater.unused_data == b""


# -- against the pack order on git-built packs ----------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["fastimport", "aggressive", "nodelta", "rev", "norev", "idxv1", "idx64", "sha256", "thin",
     "multipack"],
)
def test_inflated_end_is_the_next_entry_in_pack_order(git_repos: RepoFactory, name: str) -> None:
    repo = git_repos(name)
    hash_len = hash_len_of(repo)
    checked = 0
    for path in pack_files(repo):
        pack = PackFile.open(path, hash_len)
        for offset in pack.index.offsets():
            entry = pack.entry(offset)
            # Deltas too: their instructions are a zlib stream delimited the same way.
            assert pack.inflated_end(entry, CAP) == pack.next_offset(offset), (path, offset)
            checked += 1
    assert checked > 100


def test_without_order_the_extent_is_inflated_and_the_order_not_built(
    git_repos: RepoFactory,
) -> None:
    repo = git_repos("norev")
    (path,) = pack_files(repo)
    pack = PackFile.open(path, 20)
    offsets = pack.index.offsets()
    ends = [pack.stream_end(pack.entry(o), CAP, build_order=False) for o in offsets]
    assert pack._order is None
    assert ends == [pack.stream_end(pack.entry(o), CAP, build_order=True) for o in offsets]
    assert pack._order is not None


def _stored_then_garbage() -> tuple[bytes, bytes, PackFile]:
    # The first entry declares 5 bytes but its stream holds 4: only an inflate notices.
    entries = [pack_entry(BLOB, b"abcd", size=5), pack_entry(BLOB, b"next")]
    raw, offsets = craft_pack(entries)
    idx = craft_idx_v2(raw, [(b"\x01" * 20, offsets[0]), (b"\x02" * 20, offsets[1])])
    return raw, idx, PackFile.from_bytes(raw, idx, 20)


def test_once_the_order_exists_it_is_always_used() -> None:
    raw, idx, pack = _stored_then_garbage()
    first = pack.entry(12)
    with pytest.raises(CorruptPack, match="4 bytes, declared 5"):
        pack.stream_end(first, CAP, build_order=False)
    pack.prepare_order()
    assert pack.stream_end(first, CAP, build_order=False) == pack.next_offset(12)
    rev = struct.pack(">4sIIII", b"RIDX", 1, 1, 0, 1) + pack.checksum + b"\0" * 20
    with_rev = PackFile.from_bytes(raw, idx, 20, rev=rev)
    assert isinstance(with_rev._order, RevIndex)  # checked at open: no build needed
    assert with_rev.stream_end(first, CAP, build_order=False) == pack.next_offset(12)


def test_inflated_end_checks_the_declared_size_against_the_cap() -> None:
    _, _, pack = _stored_then_garbage()
    with pytest.raises(CorruptPack, match="exceeds the cap"):
        pack.inflated_end(pack.entry(12), 4)


# -- the object database while prepare runs ------------------------------------------------


def test_stored_streams_told_not_to_wait_do_not_while_prepare_builds_the_order(
    git_repos: RepoFactory,
) -> None:
    repo = git_repos("norev")
    expected = cat_file_all(repo)
    odb = ObjectDatabase.open(repo / "objects", 20)
    (pack,) = odb.packs
    assert odb.needs_prepare()
    # Stand in for a slow build: prepare() waits for the order lock this test holds.
    with pack._order_lock:
        worker = threading.Thread(target=odb.prepare)
        worker.start()
        during = {}
        for oid, (_, content) in expected.items():
            stored = odb.stored_stream(oid, build_order=False)
            if stored is not None:
                assert zlib.decompress(stored.data) == content
                during[oid] = (stored.offset, len(stored.data))
        assert len(during) > 100
        assert pack._order is None and worker.is_alive() and odb.needs_prepare()
    worker.join(10)
    assert not worker.is_alive() and pack._order is not None and not odb.needs_prepare()
    after = {}
    for oid in during:
        stored = odb.stored_stream(oid)
        assert stored is not None
        after[oid] = (stored.offset, len(stored.data))
    assert after == during


def test_a_pack_whose_order_cannot_be_built_fails_once_and_stops_asking(
    git_repos: RepoFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = git_repos("norev")
    blobs = [oid for oid, (kind, _) in cat_file_all(repo).items() if kind == BLOB]
    odb = ObjectDatabase.open(repo / "objects", 20)
    builds: list[object] = []

    def corrupt(*args: object) -> None:
        builds.append(args)
        raise CorruptIndex("offsets out of order")

    monkeypatch.setattr(pack_file, "SortedOffsets", corrupt)
    with pytest.raises(CorruptIndex, match="out of order"):
        odb.prepare()
    assert not odb.needs_prepare()  # nothing left that a prepare could build
    failures = 0
    for oid in blobs:
        with contextlib.suppress(CorruptIndex):
            odb.stored_stream(oid)
            continue
        failures += 1
    assert failures > 0  # every whole-stored blob needs the order
    assert len(builds) == 1  # the failure is remembered, not rebuilt per lookup


def test_without_prepare_the_first_lookup_builds_the_order(git_repos: RepoFactory) -> None:
    repo = git_repos("norev")
    blobs = [oid for oid, (kind, _) in cat_file_all(repo).items() if kind == BLOB]
    odb = ObjectDatabase.open(repo / "objects", 20)
    (pack,) = odb.packs
    assert pack._order is None
    streams = [odb.stored_stream(oid) for oid in blobs]
    assert any(streams) and pack._order is not None
