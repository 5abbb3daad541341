"""The content-addressed disk cache: atomic writes, bounds, restarts, shared directories."""

from __future__ import annotations

import os
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
