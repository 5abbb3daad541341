"""PackIndex over crafted buffers and real git output; arbitrary bytes raise only CorruptIndex."""

from __future__ import annotations

import hashlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.git.errors import CorruptIndex
from app.git.pack.index import PackIndex
from tests.git.conftest import RepoFactory
from tests.git.fixtures import craft_idx_v2, craft_pack, git, pack_entry, pack_files

IDS = sorted(hashlib.sha1(b"%d" % i).digest() for i in range(300))


def _idx(large_from: int | None = None) -> tuple[bytes, list[int]]:
    entries = [pack_entry(3, b"x")] * len(IDS)
    pack, offsets = craft_pack(entries)
    return craft_idx_v2(pack, list(zip(IDS, offsets, strict=True)), large_from=large_from), offsets


def _idx_v1(pairs: list[tuple[bytes, int]], pack_checksum: bytes) -> bytes:
    out = bytearray()
    fanout = [sum(1 for oid, _ in pairs if oid[0] <= b) for b in range(256)]
    out += struct.pack(">256I", *fanout)
    for oid, off in sorted(pairs):
        out += struct.pack(">I", off) + oid
    out += pack_checksum
    return bytes(out + hashlib.sha1(out).digest())


@pytest.mark.parametrize("large_from", [None, 13, 100])
def test_lookup_every_id(large_from: int | None) -> None:
    buf, offsets = _idx(large_from)
    index = PackIndex.from_bytes(buf, 20)
    assert index.version == 2 and index.count == len(IDS)
    for pos, oid in enumerate(IDS):
        assert index.find(oid) == pos
        assert index.offset_at(pos) == offsets[pos]
        assert index.oid_at(pos) == oid
    assert index.offsets() == offsets
    assert [off for batch in index.offset_batches(7) for off in batch] == offsets
    assert list(index) == IDS
    assert index.find(b"\x00" * 20) == -1 and index.find(b"\xff" * 20) == -1
    assert index.find(b"short") == -1


def test_v1_lookup() -> None:
    pairs = [(oid, 12 + i) for i, oid in enumerate(IDS)]
    index = PackIndex.from_bytes(_idx_v1(pairs, b"\x01" * 20), 20)
    assert index.version == 1 and index.crc32_at(0) is None
    assert index.pack_checksum == b"\x01" * 20
    for pos, (oid, off) in enumerate(pairs):
        assert index.find(oid) == pos and index.offset_at(pos) == off
    assert index.offsets() == [off for _, off in pairs]


def test_find_prefix_in_one_index() -> None:
    index = PackIndex.from_bytes(_idx()[0], 20)
    for oid in IDS[::17]:
        for n in (1, 2, 3, 4, 9, 40):
            want = [o for o in IDS if o.hex().startswith(oid.hex()[:n])]
            assert index.find_prefix(oid.hex()[:n], 1000) == want
    assert index.find_prefix("zz", 10) == []
    assert index.find_prefix("", 10) == []


def test_empty_index() -> None:
    pack, _ = craft_pack([])
    index = PackIndex.from_bytes(craft_idx_v2(pack, []), 20)
    assert index.count == 0 and index.find(IDS[0]) == -1 and index.offsets() == []


def test_sizes_outside_gits_bounds() -> None:
    buf, _ = _idx(large_from=None)
    with pytest.raises(CorruptIndex):
        PackIndex.from_bytes(buf + b"\0" * 8 * len(IDS), 20)  # more large offsets than objects
    with pytest.raises(CorruptIndex):
        PackIndex.from_bytes(buf[:-1], 20)
    with pytest.raises(CorruptIndex):
        PackIndex.from_bytes(_idx_v1([(IDS[0], 12)], b"\0" * 20) + b"\0", 20)


def test_position_out_of_range() -> None:
    index = PackIndex.from_bytes(_idx()[0], 20)
    for call in (index.oid_at, index.offset_at, index.crc32_at):
        with pytest.raises(CorruptIndex):
            call(len(IDS))


def test_real_index_versions_agree(git_repos: RepoFactory) -> None:
    """The same pack indexed as v1, v2 and v2 with forced 64-bit offsets."""
    repo = git_repos("nodelta")
    (pack,) = pack_files(repo)
    views = {}
    for version in ("1", "2", "2,0x40"):
        out = repo.parent / f"reindexed-{version}.idx"
        if not out.exists():
            git(repo, "index-pack", f"--index-version={version}", "-o", str(out), str(pack))
        views[version] = PackIndex.open(out, 20)
    v1, v2, v64 = views["1"], views["2"], views["2,0x40"]
    assert v1.count == v2.count == v64.count > 700
    assert list(v1) == list(v2) == list(v64)
    assert v1.offsets() == v2.offsets() == v64.offsets()
    for view in (v1, v2, v64):
        batches = list(view.offset_batches(100))
        assert [len(b) for b in batches[:-1]] == [100] * (len(batches) - 1)
        assert [off for batch in batches for off in batch] == v2.offsets()
    assert [v2.crc32_at(p) for p in range(v2.count)] == [v64.crc32_at(p) for p in range(v64.count)]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=1400), st.binary(min_size=20, max_size=20))
def test_arbitrary_bytes_raise_only_corrupt_index(buf: bytes, probe: bytes) -> None:
    for data in (buf, b"\xfftOc\x00\x00\x00\x02" + buf):
        try:
            index = PackIndex.from_bytes(data, 20)
            index.find(probe)
            index.find_prefix(probe.hex()[:5], 5)
            index.offsets()
            for pos in range(min(index.count, 5)):
                index.offset_at(pos)
                index.crc32_at(pos)
        except CorruptIndex:
            pass


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 2**32 - 1), min_size=256, max_size=256), st.binary(max_size=600))
def test_arbitrary_fanout_raises_only_corrupt_index(fanout: list[int], rest: bytes) -> None:
    data = b"\xfftOc\x00\x00\x00\x02" + struct.pack(">256I", *sorted(fanout)) + rest
    try:
        index = PackIndex.from_bytes(data, 20)
        index.offsets()
        index.find(rest[:20].ljust(20, b"\0"))
    except CorruptIndex:
        pass
