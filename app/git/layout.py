"""Find a repository's directories: the per-worktree git dir, the common dir, the objects dir.

Rules (git:Documentation/gitrepository-layout.txt, git:setup.c):

1. A path is accepted when it is a git dir itself (bare repository or ``.git`` directory), or a
   working tree holding a ``.git`` directory or a ``.git`` *file* that reads ``gitdir: <path>``
   (relative paths are relative to the file's directory).
2. A git dir is recognised as git does (``is_git_directory``): it holds a ``HEAD`` file, and its
   common dir holds ``objects/`` and ``refs/``.
3. A ``commondir`` file (linked worktrees, git:Documentation/git-worktree.txt) names the shared
   directory, relative to the git dir. ``HEAD`` and per-worktree refs stay in the git dir;
   ``objects/``, ``packed-refs``, ``config`` and the shared refs live in the common dir.
4. Environment variables (``GIT_DIR``, ``GIT_OBJECT_DIRECTORY``) are deliberately ignored: the
   service reads the repository it was configured with, nothing else.
5. Every file read here is small; reads are capped so a hostile file cannot exhaust memory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from app.git.errors import UnsupportedRepository

# `.git` files and `commondir` hold one path; 64 KiB is far beyond PATH_MAX.
_MAX_POINTER_FILE = 64 * 1024


@dataclass(frozen=True, slots=True)
class Layout:
    """The directories of one repository (or one linked worktree of it)."""

    git_dir: Path  # per-worktree: HEAD, refs/bisect, refs/worktree, refs/rewritten
    common_dir: Path  # shared: config, objects, packed-refs, refs
    objects_dir: Path


def _read_small(path: Path) -> str:
    with open(path, "rb") as f:
        data = f.read(_MAX_POINTER_FILE + 1)
    if len(data) > _MAX_POINTER_FILE:
        raise UnsupportedRepository(f"{path}: file too large to be a path pointer")
    return data.decode("utf-8", "surrogateescape")


def _gitdir_from_file(dotgit: Path) -> Path:
    """Follow a ``.git`` file: ``gitdir: <path>`` (git:setup.c ``read_gitfile_gently``)."""
    text = _read_small(dotgit)
    first = text.splitlines()[0] if text else ""
    if not first.startswith("gitdir:"):
        raise UnsupportedRepository(f"{dotgit}: a .git file must start with 'gitdir:'")
    target = first[len("gitdir:") :].strip()
    if not target:
        raise UnsupportedRepository(f"{dotgit}: empty 'gitdir:' line")
    path = Path(target)
    if not path.is_absolute():
        path = dotgit.parent / path
    return path


def _common_dir(git_dir: Path) -> Path:
    pointer = git_dir / "commondir"
    try:
        text = _read_small(pointer)
    except FileNotFoundError:
        return git_dir
    except OSError as exc:
        raise UnsupportedRepository(f"{pointer}: {exc.strerror}") from exc
    target = text.strip("\r\n")
    if not target:
        raise UnsupportedRepository(f"{pointer}: empty commondir")
    path = Path(target)
    return path if path.is_absolute() else git_dir / path


def _is_git_dir(path: Path) -> bool:
    if not os.path.isfile(path / "HEAD"):
        return False
    common = _common_dir(path)
    return os.path.isdir(common / "objects") and os.path.isdir(common / "refs")


def discover(path: str | os.PathLike[str]) -> Layout:
    """Return the layout of the repository at ``path`` or raise ``UnsupportedRepository``.

    ``path`` may be a bare repository, a ``.git`` directory, a linked worktree's git dir, or a
    working tree whose ``.git`` is a directory or a ``gitdir:`` file. The parent directories are
    not searched: the configured path must name the repository.
    """
    root = Path(path)
    if not root.is_dir():
        raise UnsupportedRepository(f"{root}: not a directory")
    dotgit = root / ".git"
    if dotgit.is_file():
        git_dir = _gitdir_from_file(dotgit)
    elif dotgit.is_dir():
        git_dir = dotgit
    else:
        git_dir = root
    if not _is_git_dir(git_dir):
        raise UnsupportedRepository(f"{root}: not a git repository (no HEAD, objects/ and refs/)")
    git_dir = Path(os.path.abspath(git_dir))
    common = Path(os.path.abspath(_common_dir(git_dir)))
    return Layout(git_dir=git_dir, common_dir=common, objects_dir=common / "objects")
