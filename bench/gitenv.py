"""Running git deterministically: no user or system configuration, fixed identities.

Every repository the benchmark builds must come out the same on every machine, so git
never sees the caller's ``~/.gitconfig`` or ``/etc/gitconfig``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

_IDENTITY = {
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    "GIT_AUTHOR_DATE": "1700000000 +0000",
    "GIT_COMMITTER_DATE": "1700000000 +0000",
}


def git_env() -> dict[str, str]:
    """The environment for every git subprocess the benchmark runs."""
    env = dict(os.environ)
    env.update(_IDENTITY)
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    env["GIT_CONFIG_GLOBAL"] = os.devnull
    env.pop("GIT_DIR", None)
    env.pop("GIT_WORK_TREE", None)
    return env


def git(git_dir: Path, *args: str, input: bytes | None = None) -> bytes:
    """Run ``git --git-dir=GIT_DIR ARGS`` and return its standard output."""
    done = subprocess.run(
        ["git", f"--git-dir={git_dir}", *args],
        input=input,
        capture_output=True,
        env=git_env(),
        check=False,
    )
    if done.returncode != 0:
        cmd = " ".join(["git", *args])
        raise RuntimeError(f"{cmd} failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def built_once(home: Path, build: Callable[[Path], None]) -> Path:
    """``home``, made by ``build(tmp)`` in a temporary sibling and renamed into place.

    A run that dies half-way leaves no ``home`` (only ``done`` marks a finished build), so
    the next run builds again instead of trusting a partial repository.
    """
    if not (home / "done").exists():
        home.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix="build-", dir=home.parent))
        try:
            build(tmp)
            (tmp / "done").write_text("ok\n")
            if home.exists():
                shutil.rmtree(home)
            tmp.rename(home)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)
    return home
