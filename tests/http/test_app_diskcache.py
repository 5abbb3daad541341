"""The content-addressed disk cache: atomic writes, bounds, restarts, shared directories."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.diskcache import DiskCache


def test_round_trip_and_restart(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path, 1 << 20)
    assert cache.map("abcdef.zz") is None
    assert cache.put("abcdef.zz", [b"hello ", memoryview(b"world")]) == 11
    assert bytes(cache.map("abcdef.zz") or b"") == b"hello world"
    again = DiskCache(tmp_path, 1 << 20)  # a new process finds the entry
    assert again.read("abcdef.zz", 100) == b"hello world"
    assert again.read("abcdef.zz", 5) is None
    cache.put("abcd00.raw", [])
    empty = cache.map("abcd00.raw")
    assert empty is not None
    assert bytes(empty) == b""


def test_no_temporary_left_after_a_failed_write(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path, 1 << 20)

    def failing() -> Iterator[bytes]:
        yield b"partial"
        raise OSError("disk full")

    with pytest.raises(OSError):
        cache.put("abcdef.zz", failing())
    assert cache.map("abcdef.zz") is None
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("key", ["../etc", "ABCDEF", "abc", "abcdef/x", "abcdef.ZZ", ""])
def test_invalid_keys(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError):
        DiskCache(tmp_path, 100).map(key)


def test_eviction_keeps_the_bound_and_the_recent(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path, 10_000)
    for i in range(8):
        cache.put(f"{i:04x}aa.zz", [bytes(2000)])
        past = time.time() - 10_000 + i  # older entries have older mtimes
        os.utime(cache.root / f"{i:04x}"[:2] / f"{i:04x}aa.zz"[2:], (past, past))
    files = [p for p in cache.root.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= 10_000
    assert cache.map("0007aa.zz") is not None  # the newest survives
    assert cache.map("0000aa.zz") is None  # the oldest went first


def test_mapping_survives_eviction(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path, 5000)
    cache.put("aaaa00.zz", [b"a" * 3000])
    view = cache.map("aaaa00.zz")
    assert view is not None
    cache.put("bbbb00.zz", [b"b" * 3000])  # over the bound: the older entry is unlinked
    assert bytes(view[:3]) == b"aaa"  # Linux keeps the unlinked mapping valid


WRITER = """
import sys
from app.diskcache import DiskCache
cache = DiskCache(sys.argv[1], 200_000)
me = int(sys.argv[2])
for i in range(40):
    cache.put("beef%02x.zz" % i, [bytes([i]) * 10_000])  # the same keys in every process
    cache.put("%02x%02xaa.zz" % (me, i), [bytes([me]) * 5_000])  # and keys of its own
"""


def test_several_processes_share_one_directory(tmp_path: Path) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(n)],
                         cwd=Path(__file__).parents[2])
        for n in range(4)
    ]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0, 0]
    cache = DiskCache(tmp_path, 200_000)
    files = [p for p in cache.root.rglob("*") if p.is_file()]
    assert not [p for p in files if p.name.startswith(".tmp-")]
    # Each process bounds what it sees after its own writes; together they stay near it.
    assert sum(p.stat().st_size for p in files) <= 2 * 200_000
    for i in range(40):
        view = cache.map(f"beef{i:02x}.zz")
        assert view is None or bytes(view) == bytes([i]) * 10_000  # whole, or evicted
