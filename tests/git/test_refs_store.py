"""The ref store: loose over packed, directory fallback, snapshot freshness and racy stamps."""

from __future__ import annotations

import os
import time
from pathlib import Path

from app.git import ObjectId
from app.git.layout import discover
from app.git.refs.store import RefStore

A, B, C = "a" * 40, "b" * 40, "c" * 40


def make_repo(root: Path) -> Path:
    for sub in ("objects", "refs/heads", "refs/tags"):
        (root / sub).mkdir(parents=True)
    (root / "HEAD").write_text("ref: refs/heads/main\n")
    (root / "packed-refs").write_text(
        f"# pack-refs with: peeled fully-peeled sorted \n{A} refs/heads/dir\n"
        f"{A} refs/heads/main\n{B} refs/tags/v1\n")
    return root


def age(root: Path, seconds: float = 10.0) -> None:
    """Push every stamp the store looks at into the past, so nothing is racy."""
    past = time.time() - seconds
    for path in [root / "packed-refs", root / "HEAD", *root.joinpath("refs").rglob("*")]:
        os.utime(path, (past, past))
    os.utime(root / "refs", (past, past))


def store(root: Path) -> RefStore:
    return RefStore(discover(root), 20, ("refs/heads/", "refs/tags/"), ttl=0)


def test_loose_over_packed_and_directory_fallback(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r")
    (root / "refs/heads/main").write_text(C + "\n")
    (root / "refs/heads/dir").mkdir()  # a directory at a ref path: packed-refs answers
    snap = store(root).snapshot()
    main, dir_ref = snap.resolve("refs/heads/main"), snap.resolve("refs/heads/dir")
    assert main is not None and main.oid == ObjectId.from_hex(C) and main.packed is None
    assert dir_ref is not None and dir_ref.oid == ObjectId.from_hex(A)
    assert dir_ref.packed is not None and dir_ref.packed.peel_known
    head = snap.resolve("HEAD")
    assert head is not None and head.name == "refs/heads/main"
    assert snap.names() == ["refs/heads/dir", "refs/heads/main", "refs/tags/v1"]
    assert snap.resolve("refs/heads/nope") is None


def test_snapshot_reused_until_a_stamp_changes(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r")
    age(root)
    refs = store(root)
    first = refs.snapshot()
    assert not first.racy and refs.snapshot() is first
    lock = root / "refs/heads/new.lock"
    lock.write_text(C + "\n")
    os.rename(lock, root / "refs/heads/new")  # how git writes a ref
    second = refs.snapshot()
    assert second is not first and "refs/heads/new" in second.names()


def test_racy_snapshot_is_rechecked(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r")
    refs = store(root)
    first = refs.snapshot()
    assert first.racy  # just written: the stamps cannot prove later changes
    heads = root / "refs" / "heads"
    stamp = os.stat(heads).st_mtime_ns
    (heads / "sneaky").write_text(C + "\n")
    os.utime(heads, ns=(stamp, stamp))  # same tick as the scan: the stamp did not move
    assert "refs/heads/sneaky" in refs.snapshot().names()


def test_packed_refs_rewrite_is_seen(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r")
    age(root)
    refs = store(root)
    assert refs.snapshot().resolve("refs/tags/v2") is None
    tmp = root / "packed-refs.new"
    tmp.write_text(f"{B} refs/tags/v2\n")
    os.rename(tmp, root / "packed-refs")
    v2 = refs.snapshot().resolve("refs/tags/v2")
    assert v2 is not None and v2.packed is not None and not v2.packed.peel_known
