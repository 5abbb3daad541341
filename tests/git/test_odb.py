"""ObjectDatabase against real git: every object of every fixture equals ``git cat-file``."""

from __future__ import annotations

import shutil
import zlib
from pathlib import Path

import pytest

from app.git.errors import ObjectNotFound
from app.git.objtype import OFS_DELTA, REF_DELTA
from app.git.odb import ObjectDatabase
from app.git.pack.file import PackFile
from tests.git.conftest import RepoFactory
from tests.git.fixtures import cat_file_all, fast_import, git, hash_len_of, pack_files

# The fixtures built from the shared 120-commit history (tests/git/fixtures.py).
HISTORY_FIXTURES = {
    "fastimport", "loose", "aggressive", "deep", "nodelta", "rev", "norev", "idxv1", "idx64",
    "multipack", "thin", "alternates", "sha256", "cruft",
}


def _open(repo: Path) -> ObjectDatabase:
    return ObjectDatabase.open(repo / "objects", hash_len_of(repo))


@pytest.mark.parametrize("name", sorted(HISTORY_FIXTURES))
def test_every_object_matches_cat_file(git_repos: RepoFactory, name: str) -> None:
    repo = git_repos(name)
    expected = cat_file_all(repo)
    odb = _open(repo)
    assert expected
    streams = 0
    for oid, (kind, content) in expected.items():
        assert odb.read(oid) == (kind, content), oid.hex()
        assert odb.header(oid) == (kind, len(content)), oid.hex()
        assert odb.contains(oid)
        pieces = list(odb.iter_content(oid, 4096))
        assert b"".join(pieces) == content
        assert all(0 < len(p) <= 4096 for p in pieces)
        stored = odb.stored_stream(oid)
        if stored is None:
            continue
        streams += 1
        inflater = zlib.decompressobj()
        assert inflater.decompress(stored.data) == content
        assert inflater.eof and not inflater.unused_data
        (pack,) = [p for p in odb.packs if p.pack_id == stored.pack_id]
        if stored.crc32 is not None:
            entry_end = pack.next_offset(stored.offset)
            assert stored.crc32 == zlib.crc32(pack.buf[stored.offset : entry_end])
    if name == "loose":
        assert streams == 0
    else:
        assert len(expected) > 700 and streams > 100


def _max_chain_depth(pack: PackFile) -> int:
    deepest = 0
    for pos in range(pack.index.count):
        entry = pack.entry(pack.index.offset_at(pos))
        depth = 0
        while entry.type in (OFS_DELTA, REF_DELTA):
            depth += 1
            if entry.base_offset is not None:
                entry = pack.entry(entry.base_offset)
            else:
                entry = pack.entry(pack.find(entry.base_oid or b""))
        deepest = max(deepest, depth)
    return deepest


def test_aggressive_and_deep_fixtures_have_long_chains(git_repos: RepoFactory) -> None:
    (aggressive,) = _open(git_repos("aggressive")).packs
    (deep,) = _open(git_repos("deep")).packs
    assert _max_chain_depth(aggressive) >= 40
    assert _max_chain_depth(deep) > 50
    (nodelta,) = _open(git_repos("nodelta")).packs
    assert _max_chain_depth(nodelta) == 0


def test_thin_fixed_pack_has_forward_ref_deltas(git_repos: RepoFactory) -> None:
    odb = _open(git_repos("thin"))
    forward = 0
    for pack in odb.packs:
        for pos in range(pack.index.count):
            entry = pack.entry(pack.index.offset_at(pos))
            if entry.type == REF_DELTA:
                base = pack.find(entry.base_oid or b"")
                if base > entry.offset:
                    forward += 1
    assert forward > 0


def test_large_offset_and_v1_indexes_are_what_they_claim(git_repos: RepoFactory) -> None:
    (v1,) = _open(git_repos("idxv1")).packs
    assert v1.index.version == 1 and v1.index.crc32_at(0) is None
    (v64,) = _open(git_repos("idx64")).packs
    assert v64.index.version == 2 and v64.index._large_count > 100


def test_multipack_duplicates_and_side_files(git_repos: RepoFactory) -> None:
    repo = git_repos("multipack")
    odb = _open(repo)
    assert len(odb.packs) == 4
    assert any(p.index.count == 0 for p in odb.packs)
    counts: dict[bytes, int] = {}
    for pack in odb.packs:
        for oid in pack.index:
            counts[oid] = counts.get(oid, 0) + 1
    assert max(counts.values()) >= 2


def test_sha256_repository_uses_32_byte_ids(git_repos: RepoFactory) -> None:
    repo = git_repos("sha256")
    odb = _open(repo)
    assert odb.hash_len == 32
    head = bytes.fromhex(git(repo, "rev-parse", "main").decode().strip())
    assert len(head) == 32 and odb.header(head)[0] == 1
    assert odb.find_prefix(head.hex()[:10]) == [head]


def test_alternates_chain_loop_and_missing_entry(git_repos: RepoFactory) -> None:
    leaf = git_repos("alternates")
    odb = _open(leaf)
    names = [p.parent.name for p in odb.objects_dirs]
    assert names == ["alt-leaf.git", "alt-mid.git", "alt-base.git"]


def test_missing_object(git_repos: RepoFactory) -> None:
    odb = _open(git_repos("nodelta"))
    for oid in (b"\x00" * 20, b"\xff" * 20, b"\x12" * 32, b""):
        with pytest.raises(ObjectNotFound):
            odb.read(oid)
        with pytest.raises(ObjectNotFound):
            odb.header(oid)
        with pytest.raises(ObjectNotFound):
            odb.iter_content(oid)
        with pytest.raises(ObjectNotFound):
            odb.stored_stream(oid)
        assert not odb.contains(oid)


def test_find_prefix(git_repos: RepoFactory) -> None:
    repo = git_repos("multipack")
    expected = sorted(cat_file_all(repo))
    odb = _open(repo)
    for oid in expected[::37]:
        text = oid.hex()
        for length in (4, 5, 7, 12, 40):
            want = [o for o in expected if o.hex().startswith(text[:length])]
            assert odb.find_prefix(text[:length], limit=50) == want[:50]
        assert odb.find_prefix(text.upper()) == [oid]
    assert odb.find_prefix("") == []
    assert odb.find_prefix("xyz1") == []
    assert odb.find_prefix("a" * 41) == []
    assert len(odb.find_prefix("0", limit=3)) == 3


def test_stored_stream_is_none_for_deltas_and_loose(git_repos: RepoFactory) -> None:
    odb = _open(git_repos("aggressive"))
    (pack,) = odb.packs
    for oid in pack.index:
        entry = pack.entry(pack.find(oid))
        stored = odb.stored_stream(oid)
        assert (stored is None) == (entry.type in (OFS_DELTA, REF_DELTA))
    loose = _open(git_repos("loose"))
    some = next(iter(cat_file_all(git_repos("loose"))))
    assert loose.stored_stream(some) is None


def test_new_pack_is_found_by_rescan_and_deleted_pack_keeps_streaming(
    git_repos: RepoFactory, tmp_path: Path
) -> None:
    repo = shutil.copytree(git_repos("nodelta"), tmp_path / "repo.git")
    odb = _open(repo)
    before = cat_file_all(repo)
    blob = max((oid for oid, (k, c) in before.items() if k == 3), key=lambda o: len(before[o][1]))
    stream = odb.stored_stream(blob)
    assert stream is not None
    pieces = odb.iter_content(blob, 1000)
    first = next(pieces)

    # A "push": a new reachable commit, loose; then a repack replaces the one pack.
    stream_in = (
        b"blob\nmark :1\ndata 13\npushed later\n\ncommit refs/heads/pushed\n"
        b"committer C <c@example.com> 1700000000 +0000\ndata 7\npushed\n"
        b"from refs/heads/main\nM 100644 :1 pushed.txt\n\n"
    )
    fast_import(repo, stream_in, loose=True)
    new_blob = bytes.fromhex(git(repo, "rev-parse", "pushed:pushed.txt").decode().strip())
    old_name = odb.packs[0].name
    git(repo, "repack", "-adq")
    assert old_name not in [p.name for p in pack_files(repo)]

    # The old mapping still serves the stream and the half-read iterator.
    assert zlib.decompress(stream.data) == before[blob][1]
    assert first + b"".join(pieces) == before[blob][1]
    # A miss rescans: the object only in the new pack is found, the old pack is dropped.
    assert odb.read(new_blob) == (3, b"pushed later\n")
    assert [p.name for p in odb.packs] == [p.name for p in pack_files(repo)]
    assert odb.read(blob) == before[blob]


def test_prepare_builds_pack_order_once(git_repos: RepoFactory) -> None:
    odb = _open(git_repos("norev"))
    odb.prepare()
    (pack,) = odb.packs
    order = pack._pack_order()
    odb.prepare()
    assert pack._pack_order() is order


def test_packs_deleted_by_gc_are_dropped_without_a_miss(
    git_repos: RepoFactory, tmp_path: Path
) -> None:
    repo = shutil.copytree(git_repos("nodelta"), tmp_path / "repo.git")
    odb = _open(repo)
    some = next(iter(cat_file_all(repo)))
    old = odb.packs
    git(repo, "repack", "-adfq", "--window=10")  # a different pack replaces the old one
    assert odb.read(some)  # within the revalidation interval: the old mapping still serves
    odb._next_check = 0.0  # the interval has passed
    odb.read(some)
    assert odb.packs != old
    assert [p.name for p in odb.packs] == [p.name for p in pack_files(repo)]
