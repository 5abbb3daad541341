"""Pack order from ``.rev`` files (git-written, SHA-1 and SHA-256) and built in memory."""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.git.errors import CorruptIndex
from app.git.pack.file import PackFile
from app.git.pack.index import PackIndex
from app.git.pack.revindex import RevIndex, SortedOffsets, sort_offsets
from tests.git.conftest import RepoFactory
from tests.git.fixtures import craft_idx_v2, craft_pack, hash_len_of, pack_entry, pack_files
from tests.packwriter import idx_v2


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


# -- building the order in memory ----------------------------------------------------------

U64 = st.integers(0, 2**64 - 1)


def _batches(values: list[int], size: int) -> list[list[int]]:
    return [values[at : at + size] for at in range(0, len(values), size)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(U64, st.integers(0, 300), st.integers(2**63 - 5, 2**63 + 5))),
       st.integers(1, 50))
def test_sort_offsets_sorts(values: list[int], batch: int) -> None:
    assert sort_offsets(_batches(values, batch)).tolist() == sorted(values)


LARGE_CASES: dict[str, Callable[[random.Random, int], list[int]]] = {
    # Uniform over a pack's range: one spreading pass, buckets of a few hundred.
    "uniform": lambda rng, n: rng.sample(range(12, 40 * n), n),
    # One value: a single bucket, nothing to sort.
    "all equal": lambda rng, n: [2**40 + 7] * n,
    # Consecutive: every bucket exactly full.
    "dense": lambda rng, n: rng.sample(range(12, 12 + n), n),
    # Nearly everything in one narrow cluster plus a few outliers up to 2**64-1: the
    # cluster's bucket is spread again (and again) over narrower ranges.
    "skewed": lambda rng, n: [rng.randrange(2**20, 2**20 + n) for _ in range(n - 3)]
    + [12, 2**63, 2**64 - 1],
    # Powers of two: a range far wider than the count, every level splits unevenly.
    "geometric": lambda rng, n: [2 ** rng.randrange(64) + rng.randrange(2) for _ in range(n)],
    # Duplicated offsets (a crafted idx may list one offset under several ids).
    "duplicates": lambda rng, n: [rng.randrange(12, 5000) for _ in range(n)],
}


@pytest.mark.parametrize("case", sorted(LARGE_CASES))
@pytest.mark.parametrize("n", [1, 8193, 60000])
def test_sort_offsets_on_large_and_skewed_inputs(case: str, n: int) -> None:
    values = LARGE_CASES[case](random.Random(n), n)
    assert sort_offsets(_batches(values, 16384)).tolist() == sorted(values)


def test_sort_offsets_of_nothing() -> None:
    assert sort_offsets([]).tolist() == []
    assert sort_offsets([[], []]).tolist() == []


@pytest.mark.parametrize("name", ["norev", "idxv1", "idx64", "sha256", "aggressive"])
def test_built_order_is_the_sorted_idx_offsets(git_repos: RepoFactory, name: str) -> None:
    repo = git_repos(name)
    for path in pack_files(repo):
        pack = PackFile.open(path, hash_len_of(repo))
        offsets = sorted(pack.index.offsets())
        built = SortedOffsets(pack.index, pack.data_end)
        assert [built.next_offset(o) for o in offsets] == offsets[1:] + [pack.data_end]


def test_built_order_with_offsets_beyond_4_gib() -> None:
    # Offsets past 2**32 exist only in the idx v2 64-bit table (gitformat-pack); the pack
    # itself is never read to build the order, so a crafted idx stands in for a 5 GiB pack.
    offsets = [12, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**32 + 9, 5 * 2**30, 2**40]
    rng = random.Random(7)
    ids = sorted(rng.randbytes(20) for _ in offsets)
    rng.shuffle(offsets)
    index = PackIndex.from_bytes(
        idx_v2([(oid, 0, off) for oid, off in zip(ids, offsets, strict=True)], b"\1" * 20), 20
    )
    ordered = sorted(offsets)
    built = SortedOffsets(index, 2**41)
    assert [built.next_offset(o) for o in ordered] == ordered[1:] + [2**41]
