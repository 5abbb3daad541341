"""Loose ref files: content grammar, symlink symrefs, directories, scanning."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.git import CorruptRefs, ObjectId
from app.git.refs.loose import parse_loose, read_loose, scan

A = "a" * 40


@pytest.mark.parametrize(("content", "expected"), [
    (f"{A}\n".encode(), ObjectId.from_hex(A)),
    (A.encode(), ObjectId.from_hex(A)),
    (f"{A.upper()}\n".encode(), ObjectId.from_hex(A)),
    (f"{A}\tbranch 'x' of host\n".encode(), ObjectId.from_hex(A)),  # FETCH_HEAD style
    (b"ref: refs/heads/main\n", "refs/heads/main"),
    (b"ref:refs/heads/main", "refs/heads/main"),
    (b"ref: \t refs/heads/main \n\n", "refs/heads/main"),
])
def test_parse(content: bytes, expected: object) -> None:
    assert parse_loose(content, 20) == expected


@pytest.mark.parametrize("content", [
    b"", b"\n", f"{A}x\n".encode(), A[:-1].encode(), b"ref: ", b"ref: refs/heads/a..b",
    b"ref: refs/heads/\xff", b"garbage", f"{'a' * 64}\n".encode(),
])
def test_parse_malformed(content: bytes) -> None:
    with pytest.raises(CorruptRefs):
        parse_loose(content, 20)


def test_read_special_files(tmp_path: Path) -> None:
    (tmp_path / "refs" / "heads" / "dir").mkdir(parents=True)
    assert read_loose(tmp_path / "refs/heads/dir", 20) is None  # directory: fall back to packed
    assert read_loose(tmp_path / "refs/heads/missing", 20) is None
    assert read_loose(tmp_path / "refs/heads/missing/deeper", 20) is None
    os.symlink("refs/heads/main", tmp_path / "refs/heads/legacy")
    assert read_loose(tmp_path / "refs/heads/legacy", 20) == "refs/heads/main"
    (tmp_path / "refs/heads/huge").write_bytes(b"a" * 5000)
    with pytest.raises(CorruptRefs, match="larger"):
        read_loose(tmp_path / "refs/heads/huge", 20)


def test_scan_skips_invalid_names_and_keeps_broken(tmp_path: Path) -> None:
    heads = tmp_path / "refs" / "heads"
    (heads / "feature").mkdir(parents=True)
    (heads / "main").write_text(A + "\n")
    (heads / "feature" / "x").write_text("ref: refs/heads/main\n")
    (heads / "main.lock").write_text(A + "\n")
    (heads / "bad").write_text("nope\n")
    refs, stamps = scan(tmp_path, "refs/heads/", 20)
    assert refs["refs/heads/main"] == ObjectId.from_hex(A)
    assert refs["refs/heads/feature/x"] == "refs/heads/main"
    assert isinstance(refs["refs/heads/bad"], CorruptRefs)
    assert "refs/heads/main.lock" not in refs
    assert sorted(rel for rel, _, _ in stamps) == ["refs/heads", "refs/heads/feature"]
    assert scan(tmp_path, "refs/tags/", 20) == ({}, [("refs/tags", 0, 0)])


@given(st.binary(max_size=200), st.sampled_from([20, 32]))
def test_arbitrary_content_raises_only_corrupt_refs(data: bytes, hash_len: int) -> None:
    try:
        value = parse_loose(data, hash_len)
    except CorruptRefs:
        return
    assert isinstance(value, str) or len(value) == hash_len
