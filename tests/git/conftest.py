"""Session-scoped fixture repositories for the engine tests, built once with the real git."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.git import fixtures, refrepos

BUILDERS: dict[str, Callable[[Path], Path]] = {**fixtures.BUILDERS, **refrepos.BUILDERS}


class RepoFactory:
    """Builds each named fixture repository at most once per test session."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._built: dict[str, Path] = {}
        self._lock = threading.Lock()

    def __call__(self, name: str) -> Path:
        with self._lock:
            if name not in self._built:
                builder: Callable[[Path], Path] = BUILDERS[name]
                self._built[name] = builder(self._root)
            return self._built[name]


@pytest.fixture(scope="session")
def git_repos(tmp_path_factory: pytest.TempPathFactory) -> RepoFactory:
    """``git_repos("aggressive")`` -> the git dir of that fixture (see ``BUILDERS``)."""
    return RepoFactory(tmp_path_factory.mktemp("git-fixtures"))
