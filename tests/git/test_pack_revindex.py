"""Pack order from ``.rev`` files (git-written, SHA-1 and SHA-256) and built in memory."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.git.errors import CorruptIndex
from app.git.pack.file import PackFile
from app.git.pack.index import PackIndex
from app.git.pack.revindex import RevIndex, SortedOffsets
from tests.git.conftest import RepoFactory
from tests.git.fixtures import craft_idx_v2, craft_pack, hash_len_of, pack_entry, pack_files


def _open_pack(repo_dir: Path) -> PackFile:
    (path,) = pack_files(repo_dir)
    return PackFile.open(path, hash_len_of(repo_dir))


@pytest.mark.parametrize("name", ["rev", "sha256"])
def test_git_written_rev_agrees_with_sorted_offsets(git_repos: RepoFactory, name: str) -> None:
    pack = _open_pack(git_repos(name))
    order = pack._pack_order()
    assert isinstance(order, RevIndex)
    built = SortedOffsets(pack.index, pack.data_end)
    offsets = sorted(pack.index.offsets())
    for offset in offsets:
        assert order.next_offset(offset) == built.next_offset(offset)
    assert order.next_offset(offsets[-1]) == pack.data_end


def test_without_rev_the_order_is_built(git_repos: RepoFactory) -> None:
    pack = _open_pack(git_repos("norev"))
    assert isinstance(pack._pack_order(), SortedOffsets)
    with pytest.raises(CorruptIndex):
        pack.next_offset(13)  # not an entry start


def _rev(pack: PackFile, positions: list[int], *, magic: bytes = b"RIDX", version: int = 1,
         hash_id: int = 1, checksum: bytes | None = None) -> bytes:
    body = magic + struct.pack(">II", version, hash_id)
    body += b"".join(struct.pack(">I", p) for p in positions)
    return body + (checksum or pack.checksum) + b"\0" * 20


def _crafted() -> tuple[bytes, bytes, PackFile]:
    entries = [pack_entry(3, b"blob %d" % i) for i in range(5)]
    raw, offsets = craft_pack(entries)
    ids = [bytes([0xF0 - i * 16]) * 20 for i in range(5)]  # idx order is reverse pack order
    idx = craft_idx_v2(raw, list(zip(ids, offsets, strict=True)))
    return raw, idx, PackFile.from_bytes(raw, idx, 20)


def test_crafted_rev() -> None:
    raw, idx, pack = _crafted()
    good = _rev(pack, [4, 3, 2, 1, 0])
    order = RevIndex.from_bytes(good, pack.index, pack.data_end)
    offsets = sorted(pack.index.offsets())
    assert [order.next_offset(o) for o in offsets] == offsets[1:] + [pack.data_end]
    with_rev = PackFile.from_bytes(raw, idx, 20, rev=good)
    assert isinstance(with_rev._pack_order(), RevIndex)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"magic": b"XIDX"}, "signature"),
        ({"version": 2}, "version 2"),
        ({"hash_id": 2}, "hash id"),
        ({"checksum": b"\x01" * 20}, "another pack"),
    ],
)
def test_bad_rev_headers(kw: dict[str, object], match: str) -> None:
    raw, idx, pack = _crafted()
    bad = _rev(pack, [4, 3, 2, 1, 0], **kw)  # type: ignore[arg-type]
    with pytest.raises(CorruptIndex, match=match):
        RevIndex.from_bytes(bad, pack.index, pack.data_end)
    # git:pack-revindex.c load_pack_revindex: a .rev that does not load -> built in memory.
    fallback = PackFile.from_bytes(raw, idx, 20, rev=bad)
    assert isinstance(fallback._pack_order(), SortedOffsets)


def test_rev_entries_are_checked_on_use() -> None:
    _, _, pack = _crafted()
    out_of_range = RevIndex.from_bytes(_rev(pack, [4, 3, 9, 1, 0]), pack.index, pack.data_end)
    with pytest.raises(CorruptIndex):
        for offset in sorted(pack.index.offsets()):
            out_of_range.next_offset(offset)
    shuffled = RevIndex.from_bytes(_rev(pack, [0, 1, 2, 3, 4]), pack.index, pack.data_end)
    with pytest.raises(CorruptIndex):
        for offset in sorted(pack.index.offsets()):
            shuffled.next_offset(offset)


def test_truncated_rev() -> None:
    _, _, pack = _crafted()
    with pytest.raises(CorruptIndex, match="bytes"):
        RevIndex.from_bytes(_rev(pack, [4, 3, 2, 1, 0])[:-1], pack.index, pack.data_end)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 2**32 - 1), min_size=5, max_size=5), st.integers(0, 400))
def test_arbitrary_rev_entries_raise_only_corrupt_index(positions: list[int], probe: int) -> None:
    _, _, pack = _crafted()
    order = RevIndex.from_bytes(_rev(pack, positions), pack.index, pack.data_end)
    for offset in [probe, *pack.index.offsets()]:
        try:
            nxt = order.next_offset(offset)
            assert nxt > offset
        except CorruptIndex:
            pass


def test_index_for_rev_must_have_matching_count() -> None:
    _, _, pack = _crafted()
    other = PackIndex.from_bytes(craft_idx_v2(craft_pack([])[0], []), 20)
    with pytest.raises(CorruptIndex):
        RevIndex.from_bytes(_rev(pack, [4, 3, 2, 1, 0]), other, pack.data_end)
