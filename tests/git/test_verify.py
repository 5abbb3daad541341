"""``app.git.verify`` on pristine repositories: clean reports that count what git counts.

The damaged side (every corpus case is found) is ``tests/faults/test_check_corpus.py``.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from app.git import GitError
from app.git.verify import verify_repository
from tests.faults.gitrepo import BaseRepo, build_base
from tests.git.fixtures import git_env, run_git


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> dict[str, BaseRepo]:
    """Repositories with deltas (two packs + loose), without deltas, loose only, SHA-256."""
    root = tmp_path_factory.mktemp("verify")
    home = root / "home"
    home.mkdir()
    repos = {kind: build_base(kind, root / kind, home) for kind in ("deltas", "nodelta", "loose")}
    repos["sha256"] = build_base("deltas", root / "sha256", home, object_format="sha256")
    return repos


@pytest.mark.parametrize("kind", ["deltas", "nodelta", "loose", "sha256"])
def test_pristine_repository_verifies(pristine: dict[str, BaseRepo], kind: str) -> None:
    base = pristine[kind]
    calls: list[tuple[int, int]] = []
    report = verify_repository(base.root, progress=lambda done, total: calls.append((done, total)))
    assert report.ok, [str(f) for f in report.findings]
    assert report.object_format == ("sha256" if kind == "sha256" else "sha1")
    assert report.packs == len(base.packs)
    assert report.packed_objects == sum(len(p.entries) for p in base.packs.values())
    assert report.loose_objects == len(base.loose)
    assert report.refs == len(base.refs) + 1  # and HEAD
    total = len(base.objects)
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_bare_and_git_dir_paths(pristine: dict[str, BaseRepo]) -> None:
    assert verify_repository(pristine["nodelta"].git_dir).ok


def test_not_a_repository_raises(tmp_path: Path) -> None:
    with pytest.raises(GitError):
        verify_repository(tmp_path)


def test_dangling_ref_is_reported(pristine: dict[str, BaseRepo], tmp_path: Path) -> None:
    root = tmp_path / "copy"
    shutil.copytree(pristine["loose"].root, root, symlinks=True)
    (root / ".git" / "refs" / "heads" / "ghost").write_text("1" * 40 + "\n")
    report = verify_repository(root)
    assert [(f.path, f.oid) for f in report.findings] == [("refs/heads/ghost", "1" * 40)]


def test_index_whose_pack_gc_is_removing_is_not_an_orphan(tmp_path: Path) -> None:
    # A run over a tiny repository is far shorter than the moment between git deleting an
    # old pack and its index; the index must not be reported if it goes within the grace.
    env = git_env(tmp_path / "home")
    work = tmp_path / "tiny"
    work.mkdir()
    run_git(work, "init", "-q", ".", env=env)
    (work / "a.txt").write_text("a\n")
    run_git(work, "add", "a.txt", env=env)
    run_git(work, "commit", "-q", "-m", "one", env=env)
    run_git(work, "gc", "-q", env=env)
    going = work / ".git" / "objects" / "pack" / ("pack-" + "cd" * 20 + ".idx")
    going.write_bytes(b"\xfftOc")
    deleter = threading.Timer(0.3, going.unlink)
    deleter.start()
    try:
        report = verify_repository(work)
    finally:
        deleter.join()
    assert report.findings == []


def test_orphan_pack_reported_but_git_temporaries_ignored(
    pristine: dict[str, BaseRepo], tmp_path: Path
) -> None:
    root = tmp_path / "copy"
    shutil.copytree(pristine["nodelta"].root, root, symlinks=True)
    pack_dir = root / ".git" / "objects" / "pack"
    (pack_dir / ("pack-" + "ab" * 20 + ".pack")).write_bytes(b"PACK")
    (pack_dir / ".tmp-123-pack-0123.pack").write_bytes(b"PACK")
    (pack_dir / "tmp_pack_XyZ").write_bytes(b"PACK")
    report = verify_repository(root)
    assert [f.path for f in report.findings] == [f"objects/pack/pack-{'ab' * 20}.pack"]
    assert "without an index" in report.findings[0].message
