"""Every third-party module ``app`` imports is a declared dependency: a fresh CI venv and
the Docker image install only those."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_third_party_import_is_a_declared_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_normal(re.split(r"[<>=!~;\[ ]", dep, maxsplit=1)[0])
                for dep in project["dependencies"]}
    distributions = packages_distributions()
    missing = set()
    for path in (ROOT / "app").rglob("*.py"):
        for module in _imports(ast.parse(path.read_text())):
            if module == "app" or module in sys.stdlib_module_names:
                continue
            for dist in distributions.get(module, [module]):
                if _normal(dist) not in declared:
                    missing.add(f"{path.relative_to(ROOT)}: {module} ({dist})")
    assert not missing, sorted(missing)
