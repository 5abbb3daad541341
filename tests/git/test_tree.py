"""Tree walking on a git-built repository: symlinks, gitlinks, bad paths, caches."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.git import (
    InvalidName,
    ObjectId,
    PathNotFound,
    Repository,
    SubmoduleEntry,
    SymlinkError,
)
from app.git.tree import MAX_SYMLINK_HOPS, split_path
from tests.git.conftest import RepoFactory
from tests.git.fixtures import run_git
from tests.git.refrepos import engine_git_env

Rich = tuple[Repository, ObjectId, Path]


@pytest.fixture(scope="module")
def rich(git_repos: RepoFactory) -> Rich:
    path = git_repos("rich")
    repo = Repository.open(path)
    return repo, repo.resolve("main").commit, path


def rev(path: Path, spec: str) -> str:
    out = run_git(path, "rev-parse", spec, env=engine_git_env(path.parent / "h"))
    return out.decode().strip()


@pytest.mark.parametrize(("path", "followed", "kind"), [
    ("link-rel", "docs/a.txt", "blob"),
    ("link-dir", "docs", "tree"),
    ("link-dir/", "docs", "tree"),
    ("link-dir/a.txt", "docs/a.txt", "blob"),
    ("link-dir/sub/b.txt", "docs/sub/b.txt", "blob"),
    ("docs/link-up", "README.md", "blob"),
    ("link-dir/link-up", "README.md", "blob"),
    ("chain1", "docs/a.txt", "blob"),
    ("docs/sub/to-root", "", "tree"),
    ("docs/sub/to-root/README.md", "README.md", "blob"),
    ("docs/sub/to-root/docs/sub/to-root/foo.txt", "foo.txt", "blob"),
    ("self-dot", "", "tree"),
    ("self-dot/link-rel", "docs/a.txt", "blob"),
    ("deep/a/b/up2", "docs/sub/b.txt", "blob"),
])
def test_symlinks_followed(rich: Rich, path: str, followed: str, kind: str) -> None:
    repo, commit, root = rich
    entry = repo.lookup(commit, path)
    assert (entry.path, entry.kind) == (followed, kind)
    spec = f"{commit.hex()}:{followed}" if followed else f"{commit.hex()}^{{tree}}"
    assert entry.oid.hex() == rev(root, spec)
    assert entry.mode == (0o040000 if kind == "tree" else 0o100644)


@pytest.mark.parametrize("path", [
    "loop-a", "loop-b/x", "escape", "docs/escape2", "abs", "dangling", "through-file",
    "link-dir/escape2",
])
def test_bad_symlinks(rich: Rich, path: str) -> None:
    repo, commit, _ = rich
    with pytest.raises(SymlinkError):
        repo.lookup(commit, path)


@pytest.mark.parametrize("path", ["sub", "sub/", "sub/inner/file", "link-to-sub"])
def test_gitlink_is_submodule(rich: Rich, path: str) -> None:
    repo, commit, _ = rich
    with pytest.raises(SubmoduleEntry, match="1234567890abcdef"):
        repo.lookup(commit, path)


@pytest.mark.parametrize("path", ["missing", "docs/nope", "README.md/x", "link-dir/nope",
                                  "deep/a/b/c/d.txt/e"])
def test_missing_paths(rich: Rich, path: str) -> None:
    repo, commit, _ = rich
    with pytest.raises(PathNotFound):
        repo.lookup(commit, path)


@pytest.mark.parametrize("path", ["a//b", "../x", "docs/./a.txt", "docs/..", "a\0b", "/abs",
                                  "//"])
def test_invalid_paths(rich: Rich, path: str) -> None:
    repo, commit, _ = rich
    with pytest.raises(InvalidName):
        repo.lookup(commit, path)


def test_special_files(rich: Rich) -> None:
    repo, commit, root = rich
    # One trailing "/" is ignored by lookup; the URL layer keeps Target.trailing_slash.
    assert repo.lookup(commit, "exec.sh/") == repo.lookup(commit, "exec.sh")
    assert repo.lookup(commit, "exec.sh").mode == 0o100755
    empty = repo.lookup(commit, "empty.txt")
    assert repo.read_blob(empty.oid) == b"" and repo.blob(empty.oid).size == 0
    uni = repo.lookup(commit, "ünï cödé.txt")
    assert repo.read_blob(uni.oid) == b"unicode\n"
    assert repo.read_blob(repo.lookup(commit, "bin.dat").oid) == (root / "bin.dat").read_bytes()


def test_listing_kinds(rich: Rich) -> None:
    repo, commit, _ = rich
    listing = {e.name: e for e in repo.list_dir(repo.lookup(commit, "").oid)}
    assert listing["link-rel"].kind == "symlink" and listing["link-rel"].mode == 0o120000
    assert listing["sub"].kind == "gitlink" and listing["sub"].oid.hex().startswith("1234")
    assert listing["docs"].kind == "tree"
    names = list(listing)
    # git order: "foo-bar" < "foo.txt" < "foo" (compared as "foo/")
    assert names.index("foo-bar") < names.index("foo.txt") < names.index("foo")


def test_warm_lookup_is_cached(rich: Rich) -> None:
    repo, commit, _ = rich
    first = repo.lookup(commit, "docs/sub/b.txt")
    assert repo.lookup(commit, "docs/sub/b.txt") is first


def test_split_path() -> None:
    assert split_path("") == [] and split_path("/") == []
    assert split_path("a/b/") == [b"a", b"b"]
    assert split_path("ü") == ["ü".encode()]


def test_hop_limit(tmp_path: Path) -> None:
    env = engine_git_env(tmp_path / "home")
    work = tmp_path / "hops"
    run_git(tmp_path, "init", "-q", "-b", "main", str(work), env=env)
    (work / "file").write_text("end\n")
    # l0 -> l1 -> ... -> l40 -> file: 41 links from l0, 40 from l1.
    for n in range(MAX_SYMLINK_HOPS + 1):
        os.symlink(f"l{n + 1}" if n < MAX_SYMLINK_HOPS else "file", work / f"l{n}")
    run_git(work, "add", "-A", env=env)
    run_git(work, "commit", "-q", "-m", "hops", env=env)
    repo = Repository.open(work)
    commit = repo.resolve("main").commit
    assert repo.lookup(commit, "l1").path == "file"
    with pytest.raises(SymlinkError, match="more than 40"):
        repo.lookup(commit, "l0")
