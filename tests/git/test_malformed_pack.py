"""Hostile packs and indexes, crafted byte by byte: each corruption raises its named error.

The model is git:t/lib-pack.sh plus the reproducers of gix-pack/tests/pack/malformed.rs and
dulwich#1326/#2281/#2299. Every test also guards against a hang (pytest-timeout) and against
allocation by a declared size (the caps are checked before anything is inflated).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.git.errors import (
    CorruptIndex,
    CorruptObject,
    CorruptPack,
    CorruptRepository,
    DeltaError,
    GitError,
    ObjectNotFound,
)
from app.git.objtype import BLOB, OFS_DELTA, REF_DELTA
from app.git.odb import ObjectDatabase
from app.git.pack import chain
from app.git.pack.file import PackFile
from app.git.pack.index import PackIndex
from tests.git.fixtures import craft_idx_v2, craft_pack, object_id, pack_entry
from tests.packwriter import delta_varint, ofs_encoding

BASE = b"the quick brown fox jumps over the lazy dog\n" * 20
BASE_ID = object_id(BLOB, BASE)
TARGET = BASE + b"and one more line\n"
TARGET_ID = object_id(BLOB, TARGET)
FAKE_A = bytes.fromhex("aa" * 20)
FAKE_B = bytes.fromhex("bb" * 20)


def delta(base_size: int, result_size: int, ops: bytes) -> bytes:
    """A raw delta payload."""
    return delta_varint(base_size) + delta_varint(result_size) + ops


def copy_op(offset: int, size: int) -> bytes:
    """A copy instruction with all offset and size bytes present."""
    return bytes([0xFF]) + struct.pack("<I", offset) + struct.pack("<I", size)[:3]


GOOD_DELTA = delta(len(BASE), len(TARGET), copy_op(0, len(BASE)) + b"\x12and one more line\n")


def build(entries: list[bytes], ids: list[bytes], **pack_kw: int) -> tuple[bytes, bytes]:
    """Pack bytes and a matching idx v2 listing ``ids[i]`` at entry ``i``."""
    pack, offsets = craft_pack(entries, **pack_kw)
    return pack, craft_idx_v2(pack, list(zip(ids, offsets, strict=True)))


def install(objects: Path, pack: bytes, idx: bytes) -> None:
    """Write a crafted pack and idx into ``objects/pack``."""
    pack_dir = objects / "pack"
    pack_dir.mkdir(parents=True, exist_ok=True)
    name = "pack-" + pack[-20:].hex()
    (pack_dir / f"{name}.pack").write_bytes(pack)
    (pack_dir / f"{name}.idx").write_bytes(idx)


def odb_of(tmp_path: Path, *packs: tuple[bytes, bytes], **kw: Any) -> ObjectDatabase:
    objects = tmp_path / "objects"
    objects.mkdir(parents=True, exist_ok=True)
    for pack, idx in packs:
        install(objects, pack, idx)
    return ObjectDatabase.open(objects, 20, **kw)


def test_crafted_pack_reads_and_delta_applies(tmp_path: Path) -> None:
    base_entry = pack_entry(BLOB, BASE)
    pack, offsets = craft_pack([base_entry, pack_entry(OFS_DELTA, GOOD_DELTA, base=ofs_encoding(
        len(base_entry)))])
    odb = odb_of(tmp_path, (pack, craft_idx_v2(pack, [(BASE_ID, offsets[0]),
                                                      (TARGET_ID, offsets[1])])))
    assert odb.read(TARGET_ID) == (BLOB, TARGET)
    assert odb.header(TARGET_ID) == (BLOB, len(TARGET))
    assert odb.stored_stream(TARGET_ID) is None
    assert odb.stored_stream(BASE_ID) is not None


# -- pack and index framing --------------------------------------------------------------------


def test_truncated_pack() -> None:
    pack, idx = build([pack_entry(BLOB, BASE)], [BASE_ID])
    for cut in (len(pack) - 1, len(pack) // 2, 20, 0):
        with pytest.raises(CorruptPack):
            PackFile.from_bytes(pack[:cut], idx, 20)


def test_truncated_pack_is_skipped_by_the_database(tmp_path: Path) -> None:
    pack, idx = build([pack_entry(BLOB, BASE)], [BASE_ID])
    odb = odb_of(tmp_path, (pack[:-7], idx))
    assert odb.packs == ()
    with pytest.raises(ObjectNotFound):
        odb.read(BASE_ID)


def test_truncated_idx() -> None:
    pack, idx = build([pack_entry(BLOB, BASE)], [BASE_ID])
    for cut in (len(idx) - 1, len(idx) - 41, 1000, 8, 0):
        with pytest.raises(CorruptIndex):
            PackIndex.from_bytes(idx[:cut], 20)


def test_bad_fanout_is_rejected() -> None:
    pack, idx = build([pack_entry(BLOB, BASE), pack_entry(BLOB, TARGET)], [BASE_ID, TARGET_ID])
    fanout = list(struct.unpack(">256I", idx[8 : 8 + 1024]))
    fanout[10] = 2  # later buckets hold less than bucket 10: not monotonic
    fanout[11] = 1
    bad = idx[:8] + struct.pack(">256I", *fanout) + idx[8 + 1024 :]
    with pytest.raises(CorruptIndex, match="non-monotonic"):
        PackIndex.from_bytes(bad, 20)


def test_idx_version_3_is_rejected() -> None:
    pack, idx = build([pack_entry(BLOB, BASE)], [BASE_ID])
    with pytest.raises(CorruptIndex, match="version 3"):
        PackIndex.from_bytes(idx[:4] + struct.pack(">I", 3) + idx[8:], 20)


def test_large_offset_outside_table() -> None:
    pack, idx = build([pack_entry(BLOB, BASE)], [BASE_ID])
    at = 8 + 1024 + 20 + 4
    bad = idx[:at] + struct.pack(">I", 0x80000005) + idx[at + 4 :]
    index = PackIndex.from_bytes(bad, 20)
    with pytest.raises(CorruptIndex, match="large offset"):
        index.offset_at(0)


def test_offset_past_end(tmp_path: Path) -> None:
    pack, offsets = craft_pack([pack_entry(BLOB, BASE)])
    idx = craft_idx_v2(pack, [(BASE_ID, len(pack) + 100)])
    odb = odb_of(tmp_path, (pack, idx))
    with pytest.raises(CorruptPack, match="outside"):
        odb.read(BASE_ID)
    with pytest.raises(CorruptPack):
        odb.header(BASE_ID)


def test_pack_version_4_rejected_and_3_accepted() -> None:
    for version, ok in ((4, False), (1, False), (3, True), (2, True)):
        pack, idx = build([pack_entry(BLOB, BASE)], [BASE_ID], version=version)
        if ok:
            assert PackFile.from_bytes(pack, idx, 20).version == version
        else:
            with pytest.raises(CorruptPack, match="version"):
                PackFile.from_bytes(pack, idx, 20)


def test_object_count_mismatch() -> None:
    pack, idx = build([pack_entry(BLOB, BASE)], [BASE_ID], count=2)
    with pytest.raises(CorruptPack, match="claims 2 objects"):
        PackFile.from_bytes(pack, idx, 20)


# -- entries and zlib --------------------------------------------------------------------------


def test_corrupt_zlib_in_blob(tmp_path: Path) -> None:
    stream = bytearray(zlib.compress(BASE))
    stream[len(stream) // 2] ^= 0xFF
    pack, idx = build([pack_entry(BLOB, BASE, compressed=bytes(stream))], [BASE_ID])
    odb = odb_of(tmp_path, (pack, idx))
    with pytest.raises(CorruptPack):
        odb.read(BASE_ID)
    with pytest.raises(CorruptPack):
        b"".join(odb.iter_content(BASE_ID, 64))


def test_truncated_zlib_stream(tmp_path: Path) -> None:
    stream = zlib.compress(BASE)[:-6]
    pack, idx = build([pack_entry(BLOB, BASE, compressed=stream)], [BASE_ID])
    odb = odb_of(tmp_path, (pack, idx))
    with pytest.raises(CorruptPack, match="truncated|corrupt"):
        odb.read(BASE_ID)


@pytest.mark.parametrize("declared", [len(BASE) - 1, len(BASE) + 1, 0])
def test_declared_size_mismatch(tmp_path: Path, declared: int) -> None:
    pack, idx = build([pack_entry(BLOB, BASE, size=declared)], [BASE_ID])
    odb = odb_of(tmp_path, (pack, idx))
    with pytest.raises(CorruptPack, match="inflates"):
        odb.read(BASE_ID)


def test_absurd_declared_size_is_refused_before_inflating(tmp_path: Path) -> None:
    pack, idx = build([pack_entry(BLOB, BASE, size=1 << 60)], [BASE_ID])
    odb = odb_of(tmp_path, (pack, idx))
    with pytest.raises(CorruptPack, match="cap"):
        odb.read(BASE_ID)
    with pytest.raises(CorruptPack, match="cap"):
        odb.header(BASE_ID)


@pytest.mark.parametrize("kind", [0, 5])
def test_invalid_entry_type(tmp_path: Path, kind: int) -> None:
    pack, idx = build([pack_entry(kind, BASE)], [BASE_ID])
    odb = odb_of(tmp_path, (pack, idx))
    with pytest.raises(CorruptPack, match="invalid type"):
        odb.read(BASE_ID)


def test_size_varint_that_never_ends(tmp_path: Path) -> None:
    pack, idx = build([bytes([0xB0]) + b"\xff" * 40 + b"\x01"], [BASE_ID])
    odb = odb_of(tmp_path, (pack, idx))
    with pytest.raises(CorruptPack, match="64 bits"):
        odb.read(BASE_ID)


def test_preset_dictionary_stream_is_not_passed_through(tmp_path: Path) -> None:
    compressor = zlib.compressobj(zdict=b"quick brown fox")
    stream = compressor.compress(BASE) + compressor.flush()
    pack, idx = build([pack_entry(BLOB, BASE, compressed=stream)], [BASE_ID])
    odb = odb_of(tmp_path, (pack, idx))
    assert odb.stored_stream(BASE_ID) is None
    with pytest.raises(CorruptPack):
        odb.read(BASE_ID)


# -- deltas ------------------------------------------------------------------------------------


def _delta_pack(tmp_path: Path, payload: bytes) -> ObjectDatabase:
    base_entry = pack_entry(BLOB, BASE)
    entry = pack_entry(OFS_DELTA, payload, base=ofs_encoding(len(base_entry)))
    return odb_of(tmp_path, build([base_entry, entry], [BASE_ID, TARGET_ID]))


def test_delta_base_size_mismatch(tmp_path: Path) -> None:
    odb = _delta_pack(tmp_path, delta(len(BASE) + 1, len(TARGET), copy_op(0, len(BASE))))
    with pytest.raises(DeltaError, match="base of"):
        odb.read(TARGET_ID)


def test_delta_result_size_mismatch(tmp_path: Path) -> None:
    odb = _delta_pack(tmp_path, delta(len(BASE), len(TARGET) + 3, copy_op(0, len(BASE))))
    with pytest.raises(DeltaError, match="produced"):
        odb.read(TARGET_ID)


def test_delta_copy_out_of_range(tmp_path: Path) -> None:
    odb = _delta_pack(tmp_path, delta(len(BASE), 10, copy_op(len(BASE) - 5, 10)))
    with pytest.raises(DeltaError, match="outside the base"):
        odb.read(TARGET_ID)


def test_delta_opcode_zero(tmp_path: Path) -> None:
    odb = _delta_pack(tmp_path, delta(len(BASE), 1, b"\x00\x01x"))
    with pytest.raises(DeltaError, match="opcode 0"):
        odb.read(TARGET_ID)


def test_delta_bomb_is_refused_without_allocating(tmp_path: Path) -> None:
    # 2**40 declared, produced by 16 MiB copies of a tiny base if anyone believed it.
    bomb = delta(len(BASE), 1 << 40, copy_op(0, len(BASE)) * 1000)
    odb = _delta_pack(tmp_path, bomb)
    with pytest.raises(DeltaError, match="cap"):
        odb.read(TARGET_ID)
    with pytest.raises(DeltaError, match="cap"):
        odb.header(TARGET_ID)


def test_ref_delta_cycle(tmp_path: Path) -> None:
    payload = delta(10, 10, b"\x0a0123456789")
    entries = [pack_entry(REF_DELTA, payload, base=FAKE_B), pack_entry(REF_DELTA, payload,
                                                                       base=FAKE_A)]
    odb = odb_of(tmp_path, build(entries, [FAKE_A, FAKE_B]))
    for oid in (FAKE_A, FAKE_B):
        with pytest.raises(DeltaError, match="loops"):
            odb.read(oid)
        with pytest.raises(DeltaError, match="loops"):
            odb.header(oid)


def test_ref_delta_naming_itself(tmp_path: Path) -> None:
    payload = delta(10, 10, b"\x0a0123456789")
    odb = odb_of(tmp_path, build([pack_entry(REF_DELTA, payload, base=FAKE_A)], [FAKE_A]))
    with pytest.raises(DeltaError, match="loops"):
        odb.read(FAKE_A)


def test_ofs_delta_offset_zero(tmp_path: Path) -> None:
    base_entry = pack_entry(BLOB, BASE)
    entry = pack_entry(OFS_DELTA, GOOD_DELTA, base=ofs_encoding(0))
    odb = odb_of(tmp_path, build([base_entry, entry], [BASE_ID, TARGET_ID]))
    with pytest.raises(DeltaError, match="impossible base distance 0"):
        odb.read(TARGET_ID)


def test_ofs_delta_into_the_pack_header(tmp_path: Path) -> None:
    base_entry = pack_entry(BLOB, BASE)
    entry = pack_entry(OFS_DELTA, GOOD_DELTA, base=ofs_encoding(len(base_entry) + 5))
    odb = odb_of(tmp_path, build([base_entry, entry], [BASE_ID, TARGET_ID]))
    with pytest.raises(DeltaError, match="impossible"):
        odb.read(TARGET_ID)


def test_ofs_delta_into_the_middle_of_an_entry(tmp_path: Path) -> None:
    base_entry = pack_entry(BLOB, BASE)
    entry = pack_entry(OFS_DELTA, GOOD_DELTA, base=ofs_encoding(len(base_entry) - 3))
    odb = odb_of(tmp_path, build([base_entry, entry], [BASE_ID, TARGET_ID]))
    with pytest.raises(CorruptRepository):
        odb.read(TARGET_ID)


def test_missing_ref_delta_base(tmp_path: Path) -> None:
    entry = pack_entry(REF_DELTA, GOOD_DELTA, base=BASE_ID)
    odb = odb_of(tmp_path, build([entry], [TARGET_ID]))
    with pytest.raises(DeltaError, match="missing"):
        odb.read(TARGET_ID)
    with pytest.raises(DeltaError, match="missing"):
        odb.header(TARGET_ID)


def _chain(depth: int) -> tuple[list[bytes], list[bytes], bytes]:
    """A pack whose last entry sits ``depth`` OFS deltas above a base blob."""
    content = b"x"
    entries = [pack_entry(BLOB, content)]
    ids = [object_id(BLOB, content)]
    offsets = [12]
    for _ in range(depth):
        nxt = content + b"y"
        payload = delta(len(content), len(nxt), copy_op(0, len(content)) + b"\x01y")
        here = offsets[-1] + len(entries[-1])
        entries.append(pack_entry(OFS_DELTA, payload, base=ofs_encoding(here - offsets[-1])))
        offsets.append(here)
        ids.append(object_id(BLOB, nxt))
        content = nxt
    return entries, ids, content


def test_chain_depth_cap(tmp_path: Path) -> None:
    entries, ids, content = _chain(30)
    odb = odb_of(tmp_path, build(entries, ids), max_depth=10)
    with pytest.raises(DeltaError, match="deeper than 10"):
        odb.read(ids[-1])
    with pytest.raises(DeltaError, match="deeper than 10"):
        odb.header(ids[-1])
    assert odb.read(ids[10]) == (BLOB, content[:11])


def test_chain_deeper_than_the_recursion_limit(tmp_path: Path) -> None:
    entries, ids, content = _chain(3000)
    odb = odb_of(tmp_path, build(entries, ids))
    assert odb.read(ids[-1]) == (BLOB, content)
    assert odb.header(ids[-1]) == (BLOB, len(content))


# -- bases elsewhere, duplicates ---------------------------------------------------------------


def test_ref_delta_base_later_in_the_same_pack(tmp_path: Path) -> None:
    entries = [pack_entry(REF_DELTA, GOOD_DELTA, base=BASE_ID), pack_entry(BLOB, BASE)]
    odb = odb_of(tmp_path, build(entries, [TARGET_ID, BASE_ID]))
    assert odb.read(TARGET_ID) == (BLOB, TARGET)
    assert odb.header(TARGET_ID) == (BLOB, len(TARGET))


def test_ref_delta_base_in_another_pack(tmp_path: Path) -> None:
    odb = odb_of(
        tmp_path,
        build([pack_entry(REF_DELTA, GOOD_DELTA, base=BASE_ID)], [TARGET_ID]),
        build([pack_entry(BLOB, BASE)], [BASE_ID]),
    )
    assert odb.read(TARGET_ID) == (BLOB, TARGET)
    assert odb.header(TARGET_ID) == (BLOB, len(TARGET))


def test_ref_delta_base_loose(tmp_path: Path) -> None:
    objects = tmp_path / "objects"
    loose_dir = objects / BASE_ID.hex()[:2]
    loose_dir.mkdir(parents=True)
    (loose_dir / BASE_ID.hex()[2:]).write_bytes(zlib.compress(b"blob %d\0" % len(BASE) + BASE))
    odb = odb_of(tmp_path, build([pack_entry(REF_DELTA, GOOD_DELTA, base=BASE_ID)], [TARGET_ID]))
    assert odb.read(TARGET_ID) == (BLOB, TARGET)
    assert odb.header(TARGET_ID) == (BLOB, len(TARGET))
    assert b"".join(odb.iter_content(TARGET_ID, 7)) == TARGET


def test_ref_delta_cycle_across_packs(tmp_path: Path) -> None:
    payload = delta(10, 10, b"\x0a0123456789")
    odb = odb_of(
        tmp_path,
        build([pack_entry(REF_DELTA, payload, base=FAKE_B)], [FAKE_A]),
        build([pack_entry(REF_DELTA, payload, base=FAKE_A)], [FAKE_B]),
    )
    with pytest.raises(DeltaError, match="loops"):
        odb.read(FAKE_A)


def test_duplicate_in_one_pack_falls_over_to_the_good_copy(tmp_path: Path) -> None:
    broken = bytearray(zlib.compress(BASE))
    broken[5] ^= 0xFF
    entries = [pack_entry(BLOB, BASE, compressed=bytes(broken)), pack_entry(BLOB, BASE)]
    odb = odb_of(tmp_path, build(entries, [BASE_ID, BASE_ID]))
    (pack,) = odb.packs
    assert len(pack.offsets_of(BASE_ID)) == 2
    assert odb.read(BASE_ID) == (BLOB, BASE)


def test_corrupt_copy_in_one_pack_good_copy_in_another(tmp_path: Path) -> None:
    broken = zlib.compress(BASE)[:-3]
    odb = odb_of(
        tmp_path,
        build([pack_entry(BLOB, BASE, compressed=broken)], [BASE_ID]),
        build([pack_entry(BLOB, BASE)], [BASE_ID]),
    )
    assert odb.read(BASE_ID) == (BLOB, BASE)


def test_corrupt_loose_object(tmp_path: Path) -> None:
    objects = tmp_path / "objects"
    loose_dir = objects / BASE_ID.hex()[:2]
    loose_dir.mkdir(parents=True)
    (loose_dir / BASE_ID.hex()[2:]).write_bytes(zlib.compress(b"blob 3\0abcd"))
    odb = ObjectDatabase.open(objects, 20)
    with pytest.raises(CorruptObject):
        odb.read(BASE_ID)


# -- fuzzing -----------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(min_size=1, max_size=300), st.sampled_from([BLOB, OFS_DELTA, REF_DELTA]))
def test_arbitrary_entry_bytes_raise_only_engine_errors(body: bytes, kind: int) -> None:
    base_entry = pack_entry(BLOB, BASE)
    entry = bytes([(kind << 4) | 0x05]) + body
    pack, offsets = craft_pack([base_entry, entry])
    idx = craft_idx_v2(pack, [(BASE_ID, offsets[0]), (FAKE_A, offsets[1])])
    packfile = PackFile.from_bytes(pack, idx, 20)
    for call in (
        lambda: chain.resolve(packfile, offsets[1], _NoBases(), max_size=1 << 20),
        lambda: chain.header(packfile, offsets[1], _NoBases(), max_size=1 << 20),
    ):
        try:
            call()
        except GitError:
            pass


def _fuzz_pack() -> tuple[bytes, list[int], list[bytes]]:
    """A small pack with a whole blob, an OFS chain and a forward REF_DELTA."""
    entries, ids, _ = _chain(4)
    entries.append(pack_entry(REF_DELTA, GOOD_DELTA, base=BASE_ID))
    ids.append(TARGET_ID)
    entries.append(pack_entry(BLOB, BASE))
    ids.append(BASE_ID)
    pack, offsets = craft_pack(entries)
    return pack, offsets, ids


FUZZ_PACK, FUZZ_OFFSETS, FUZZ_IDS = _fuzz_pack()


class _NoBases:
    def locate_packed(self, oid: bytes) -> None:
        return None

    def read_unpacked(self, oid: bytes) -> None:
        return None

    def header_unpacked(self, oid: bytes) -> None:
        return None


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(12, len(FUZZ_PACK) - 21), st.integers(0, 255)), max_size=6),
    st.lists(st.integers(0, len(FUZZ_PACK) + 50), min_size=len(FUZZ_IDS),
             max_size=len(FUZZ_IDS)),
    st.booleans(),
)
def test_mutated_packs_raise_only_engine_errors(
    flips: list[tuple[int, int]], offsets: list[int], keep_offsets: bool
) -> None:
    pack = bytearray(FUZZ_PACK)
    for at, value in flips:
        pack[at] = value
    rows = list(zip(FUZZ_IDS, FUZZ_OFFSETS if keep_offsets else offsets, strict=True))
    idx = craft_idx_v2(bytes(pack), rows)
    packfile = PackFile.from_bytes(bytes(pack), idx, 20)
    for oid in FUZZ_IDS:
        _exercise(packfile, packfile.find(oid))


def _exercise(packfile: PackFile, offset: int) -> None:
    for call in (
        lambda: chain.resolve(packfile, offset, _NoBases(), max_size=1 << 20),
        lambda: chain.header(packfile, offset, _NoBases(), max_size=1 << 20),
        lambda: packfile.next_offset(offset),
        lambda: packfile.inflated_end(packfile.entry(offset), 1 << 20),
        lambda: b"".join(packfile.iter_inflate(packfile.entry(offset), 7, 1 << 20)),
    ):
        try:
            call()
        except GitError:
            pass


def test_in_memory_and_streaming_caps(tmp_path: Path) -> None:
    """``max_object_size`` bounds what is built in memory (read, delta results);
    ``max_stream_size`` bounds whole objects streamed in chunks."""
    base_entry = pack_entry(BLOB, BASE)
    entry = pack_entry(OFS_DELTA, GOOD_DELTA, base=ofs_encoding(len(base_entry)))
    odb = odb_of(tmp_path, build([base_entry, entry], [BASE_ID, TARGET_ID]),
                 max_object_size=100, max_stream_size=len(BASE))
    with pytest.raises(CorruptPack, match="cap"):
        odb.read(BASE_ID)
    assert odb.header(BASE_ID) == (BLOB, len(BASE))
    assert b"".join(odb.iter_content(BASE_ID, 50)) == BASE
    with pytest.raises(CorruptRepository, match="cap"):
        odb.read(TARGET_ID)
    with pytest.raises(DeltaError, match="cap"):
        odb.header(TARGET_ID)
    small = odb_of(tmp_path / "x", build([pack_entry(BLOB, BASE)], [BASE_ID]),
                   max_object_size=10, max_stream_size=len(BASE) - 1)
    with pytest.raises(CorruptPack, match="cap"):
        small.header(BASE_ID)
    with pytest.raises(CorruptPack, match="cap"):
        small.iter_content(BASE_ID)
