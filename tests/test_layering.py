"""Architecture guards: the engine imports only the standard library and itself; no `assert`
in application code; ``app.git.__all__`` is sorted and complete."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import app.git

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app"


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                names.append("<relative>")
            elif node.module:
                names.append(node.module)
    return names


def test_engine_imports_only_stdlib_and_itself() -> None:
    offenders = []
    for path in sorted((APP / "git").rglob("*.py")):
        for name in _imports(path):
            top = name.split(".")[0]
            if name == "app.git" or name.startswith("app.git."):
                continue
            if top in sys.stdlib_module_names and top != "asyncio":
                continue
            offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert offenders == []


def test_no_assert_statements_in_app() -> None:
    offenders = []
    for path in sorted(APP.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        offenders += [f"{path.relative_to(ROOT)}:{node.lineno}" for node in ast.walk(tree)
                      if isinstance(node, ast.Assert)]
    assert offenders == []


def test_public_api_sorted_and_exported() -> None:
    assert app.git.__all__ == sorted(app.git.__all__)
    for name in app.git.__all__:
        assert getattr(app.git, name) is not None
