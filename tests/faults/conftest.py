"""Session fixtures for the fault suite: the pristine base repositories, built once.

Each corpus case copies a base (a few hundred kilobytes) into its own temporary directory,
so cases never see each other's damage.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.faults.corpus import CASES_BY_NAME, Corrupted, materialize
from tests.faults.gitrepo import BaseRepo, build_base, git_env
from tests.faults.hostile import HostileRepo, build_hostile


@pytest.fixture(scope="session")
def fault_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty ``HOME`` for every git run of the suite."""
    return tmp_path_factory.mktemp("fault-home")


@pytest.fixture(scope="session")
def fault_env(fault_home: Path) -> dict[str, str]:
    """Deterministic git environment (no user or system configuration)."""
    return git_env(fault_home)


@pytest.fixture(scope="session")
def bases(tmp_path_factory: pytest.TempPathFactory, fault_home: Path) -> dict[str, BaseRepo]:
    """The pristine base repositories by kind: ``deltas``, ``nodelta``, ``loose``, and
    ``sha256`` (the ``deltas`` history in a SHA-256 repository)."""
    root = tmp_path_factory.mktemp("fault-bases")
    built = {
        kind: build_base(kind, root / kind, fault_home) for kind in ("deltas", "nodelta", "loose")
    }
    built["sha256"] = build_base("deltas", root / "sha256", fault_home, object_format="sha256")
    return built


@pytest.fixture
def corrupt(bases: dict[str, BaseRepo], tmp_path: Path) -> Callable[[str], Corrupted]:
    """``corrupt("bad-fanout")`` -> a fresh damaged copy and its expected outcomes."""

    def make(name: str) -> Corrupted:
        case = CASES_BY_NAME[name]
        return materialize(case, bases[case.base], tmp_path / name)

    return make


@pytest.fixture(scope="session")
def hostile(tmp_path_factory: pytest.TempPathFactory, fault_home: Path) -> HostileRepo:
    """The hostile-tree repository (escaping symlinks, loops, odd names), built once."""
    return build_hostile(tmp_path_factory.mktemp("hostile"), fault_home)
