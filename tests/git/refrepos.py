"""Repository-level fixtures for the engine tests: refs, trees, revisions and layouts.

Rules:
1. Built with the real ``git`` through ``tests.git.fixtures.run_git`` and ``git_env`` with
   this module's identities and fixed dates (``engine_git_env``), so ids never change.
2. ``rich`` is one working tree (symlinks of every kind, a gitlink, tags of tags, loose refs
   over packed ones); the other builders are views of it (bare clone, ``.git`` file, linked
   worktree) or bare copies with hand-edited ``packed-refs`` and loose refs.
3. ``BUILDERS`` maps fixture names to builders; ``tests/git/conftest.py`` serves them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from tests.git.fixtures import git_env, run_git

GITLINK_OID = "1234567890abcdef1234567890abcdef12345678"
RICH_BASE_DATE = 1_600_000_000


def engine_git_env(home: Path, date: int = RICH_BASE_DATE) -> dict[str, str]:
    """``git_env`` with the repository-level fixtures' identities, committing at ``date``
    (committer time zone +0200, so time-zone handling is exercised)."""
    home.mkdir(parents=True, exist_ok=True)
    return git_env(
        home,
        date=f"{date} +0000",
        committer_date=f"{date} +0200",
        author=("A U Thor", "author@example.com"),
        committer=("C O Mitter", "committer@example.com"),
    )


def _write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def _symlink(path: Path, target: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, path)


def build_rich_repo(base: Path) -> Path:
    """A working tree exercising refs and trees; returns the working tree path.

    Commits (dates RICH_BASE_DATE + 0/100/200/300): c1 on main; c2 on main (tags v1.0,
    v1.0-outer (tag of a tag), same); c3 on feature/x only; c4 on main after ``git gc``, so
    main is a loose ref over a packed one and c4's objects are loose. Lightweight tag v0.1
    and branches docs/same at c1; tree-tag (annotated, on a tree) and blob-tag (lightweight,
    on a blob); refs/heads/alias is a symref to main; refs/pull/1/head is not exposed.
    """
    home = base / "home"
    repo = base / "rich"
    env = engine_git_env(home)
    run_git(base, "init", "-q", "-b", "main", str(repo), env=env)
    run_git(repo, "config", "core.symlinks", "true", env=env)
    files: dict[str, bytes | str] = {
        "README.md": "readme\n",
        "docs/a.txt": "a one\n",
        "docs/index.html": "<!doctype html><p>docs</p>\n",
        "docs/sub/b.txt": "b\n",
        "bin.dat": bytes(range(256)) * 4 + b"\0\xff\0",
        "empty.txt": b"",
        "exec.sh": "#!/bin/sh\necho hi\n",
        "ünï cödé.txt": "unicode\n",
        "sp ace.txt": "space\n",
        "foo.txt": "foo\n",
        "foo-bar": "foo-bar\n",
        "foo/bar.txt": "foo/bar\n",
        "deep/a/b/c/d.txt": "deep\n",
    }
    for name, data in files.items():
        _write(repo / name, data)
    os.chmod(repo / "exec.sh", 0o755)
    links = {
        "link-rel": "docs/a.txt",
        "link-dir": "docs",
        "docs/link-up": "../README.md",
        "chain1": "chain2",
        "chain2": "link-rel",
        "loop-a": "loop-b",
        "loop-b": "loop-a",
        "escape": "../outside",
        "docs/escape2": "../../x",
        "abs": "/etc/passwd",
        "dangling": "nope.txt",
        "docs/sub/to-root": "../..",
        "through-file": "README.md/x",
        "self-dot": ".",
        "link-to-sub": "sub/inner",
        "deep/a/b/up2": "../../../docs/./sub/b.txt",
    }
    for name, target in links.items():
        _symlink(repo / name, target)
    run_git(repo, "add", "-A", env=env)
    run_git(repo, "update-index", "--add", "--cacheinfo", f"160000,{GITLINK_OID},sub",
               env=env)
    run_git(repo, "commit", "-q", "-m", "c1", env=env)
    run_git(repo, "tag", "v0.1", env=env)
    run_git(repo, "branch", "docs", env=env)
    run_git(repo, "branch", "same", env=env)
    run_git(repo, "update-ref", "refs/pull/1/head", "HEAD", env=env)

    env = engine_git_env(home, RICH_BASE_DATE + 100)
    _write(repo / "docs/a.txt", "a two\n")
    _write(repo / "new.txt", "new\n")
    # Never `add -A` after c1: the gitlink has no checkout and would be dropped.
    run_git(repo, "add", "docs/a.txt", "new.txt", env=env)
    run_git(repo, "commit", "-q", "-m", "c2", env=env)
    run_git(repo, "tag", "-a", "-m", "release 1.0", "v1.0", env=env)
    run_git(repo, "-c", "advice.nestedTag=false", "tag", "-a", "-m", "outer", "v1.0-outer",
               "v1.0", env=env)
    run_git(repo, "tag", "-a", "-m", "same tag", "same", env=env)
    run_git(repo, "tag", "-a", "-m", "a tree", "tree-tag", "HEAD^{tree}", env=env)
    run_git(repo, "tag", "blob-tag", "HEAD:README.md", env=env)
    run_git(repo, "symbolic-ref", "refs/heads/alias", "refs/heads/main", env=env)

    env = engine_git_env(home, RICH_BASE_DATE + 200)
    run_git(repo, "checkout", "-q", "-b", "feature/x", env=env)
    _write(repo / "docs/a.txt", "a feature\n")
    run_git(repo, "commit", "-q", "-am", "c3", env=env)
    run_git(repo, "checkout", "-q", "main", env=env)
    run_git(repo, "gc", "-q", env=env)

    env = engine_git_env(home, RICH_BASE_DATE + 300)
    _write(repo / "deep/a/b/c/e.txt", "e\n")
    run_git(repo, "add", "deep/a/b/c/e.txt", env=env)
    run_git(repo, "commit", "-q", "-m", "c4", env=env)
    return repo


def build_layout_variants(base: Path, rich: Path) -> dict[str, Path]:
    """Other ways to reach the rich repository: bare clone, ``.git`` file, linked worktree."""
    env = engine_git_env(base / "home")
    bare = base / "bare.git"
    run_git(base, "clone", "-q", "--bare", "--no-local", str(rich), str(bare), env=env)
    gitfile = base / "gitfile"
    gitfile.mkdir()
    (gitfile / ".git").write_text(f"gitdir: {os.path.relpath(rich / '.git', gitfile)}\n")
    worktree = base / "wt"
    run_git(rich, "worktree", "add", "-q", str(worktree), "feature/x", env=env)
    return {"bare": bare, "gitfile": gitfile, "worktree": worktree}


def build_sha256_repo(base: Path) -> Path:
    """A small SHA-256 repository: two commits, a symlink, an annotated tag, a branch."""
    home = base / "home"
    repo = base / "sha256"
    env = engine_git_env(home)
    run_git(base, "init", "-q", "-b", "main", "--object-format=sha256", str(repo), env=env)
    _write(repo / "a.txt", "sha256 a\n")
    _write(repo / "dir/b.txt", "sha256 b\n")
    _symlink(repo / "link", "dir/b.txt")
    run_git(repo, "add", "-A", env=env)
    run_git(repo, "commit", "-q", "-m", "s1", env=env)
    run_git(repo, "tag", "-a", "-m", "t", "v1", env=env)
    env = engine_git_env(home, RICH_BASE_DATE + 50)
    _write(repo / "a.txt", "sha256 a2\n")
    run_git(repo, "commit", "-q", "-am", "s2", env=env)
    run_git(repo, "branch", "topic/one", env=env)
    run_git(repo, "gc", "-q", env=env)
    return repo


def _engine_root(root: Path) -> Path:
    """The rich repository and its variants share one directory under the session root."""
    base = root / "engine"
    if not (base / "rich").exists():
        base.mkdir(parents=True, exist_ok=True)
        rich = build_rich_repo(base)
        build_layout_variants(base, rich)
    return base


def _bare_variant(root: Path, name: str) -> Path:
    dst = _engine_root(root) / f"{name}.git"
    if not dst.exists():
        shutil.copytree(_engine_root(root) / "bare.git", dst, symlinks=True)
    return dst


def _rewrite_packed(git_dir: Path, *, header: str | None, peeled: bool, reverse: bool) -> None:
    """Rewrite a real ``packed-refs``: choose the header, keep or drop ``^`` lines, reorder."""
    text = (git_dir / "packed-refs").read_text()
    records: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if line.startswith("^"):
            if peeled:
                records[-1].append(line)
            continue
        records.append([line])
    if reverse:
        records.reverse()
    lines = ([header] if header is not None else []) + [x for rec in records for x in rec]
    (git_dir / "packed-refs").write_text("".join(line + "\n" for line in lines))


def build_packed_noheader(root: Path) -> Path:
    """packed-refs without header and without ``^`` lines: every peel must be computed."""
    repo = _bare_variant(root, "packed-noheader")
    _rewrite_packed(repo, header=None, peeled=False, reverse=False)
    return repo


def build_packed_peeled_only(root: Path) -> Path:
    """Header ``peeled`` only (no fully-peeled): ``^`` lines kept for tags."""
    repo = _bare_variant(root, "packed-peeled")
    _rewrite_packed(repo, header="# pack-refs with: peeled ", peeled=True, reverse=False)
    return repo


def build_packed_unsorted(root: Path) -> Path:
    """Headerless, reverse-sorted packed-refs that keeps its ``^`` lines."""
    repo = _bare_variant(root, "packed-unsorted")
    _rewrite_packed(repo, header=None, peeled=True, reverse=True)
    return repo


def build_symref_loop(root: Path) -> Path:
    """refs/heads/loop1 -> loop2 -> loop1, a 6-deep symref chain, and one garbage loose ref."""
    repo = _bare_variant(root, "symref-loop")
    heads = repo / "refs" / "heads"
    (heads / "loop1").write_text("ref: refs/heads/loop2\n")
    (heads / "loop2").write_text("ref: refs/heads/loop1\n")
    for n in range(6):
        (heads / f"deep{n}").write_text(f"ref: refs/heads/deep{n + 1}\n")
    (heads / "deep6").write_text("ref: refs/heads/main\n")
    (heads / "garbage").write_text("not a ref\n")
    return repo


def build_reftable_config(root: Path) -> Path:
    """A repository whose config declares ``extensions.refStorage=reftable`` (git 2.39 cannot
    create one, so the config is written by hand)."""
    repo = _bare_variant(root, "reftable")
    with open(repo / "config", "a") as f:
        f.write("[core]\n\trepositoryformatversion = 1\n[extensions]\n\trefStorage = reftable\n")
    return repo


BUILDERS: dict[str, Callable[[Path], Path]] = {
    "rich": lambda root: _engine_root(root) / "rich",
    "rich-bare": lambda root: _engine_root(root) / "bare.git",
    "rich-gitfile": lambda root: _engine_root(root) / "gitfile",
    "rich-worktree": lambda root: _engine_root(root) / "wt",
    "rich-sha256": lambda root: build_sha256_repo(_engine_root(root)),
    "packed-noheader": build_packed_noheader,
    "packed-peeled": build_packed_peeled_only,
    "packed-unsorted": build_packed_unsorted,
    "symref-loop": build_symref_loop,
    "reftable": build_reftable_config,
}
