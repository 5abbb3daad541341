"""The Dockerfile, checked as far as a machine without a Docker engine allows.

Its instructions are parsed and validated (known instructions, slim base, non-root user,
HEALTHCHECK, volumes, exec-form command); then its ENTRYPOINT + CMD run locally, with the
image's ENV (volumes mapped to a fixture repository and a temporary cache), and must serve
``/-/healthz`` — and the HEALTHCHECK command itself must then succeed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import SiteRepos, cat_blob, tree_files
from tests.ops.proc import running
from tests.servers import PACKSERVE, ROOT, free_port

INSTRUCTIONS = {
    "FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME",
    "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
}


def parse(text: str) -> list[tuple[str, str]]:
    """Dockerfile → (INSTRUCTION, arguments), continuations joined, comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical = pending + stripped
        pending = ""
        word, _, rest = logical.partition(" ")
        result.append((word.upper(), rest.strip()))
    assert not pending, "the Dockerfile ends inside a line continuation"
    return result


def env_of(args: str) -> dict[str, str]:
    """``ENV a=1 b=2`` (the key=value form, values without spaces)."""
    pairs = [item.split("=", 1) for item in args.split()]
    assert all(len(p) == 2 for p in pairs), args
    return {key: value for key, value in pairs}


@pytest.fixture(scope="module")
def final_stage() -> list[tuple[str, str]]:
    instructions = parse((ROOT / "Dockerfile").read_text())
    assert instructions[0][0] == "FROM"
    unknown = {word for word, _ in instructions} - INSTRUCTIONS
    assert not unknown
    starts = [i for i, (word, _) in enumerate(instructions) if word == "FROM"]
    return instructions[starts[-1]:]


def last(stage: list[tuple[str, str]], word: str) -> str:
    values = [args for w, args in stage if w == word]
    assert values, f"no {word}"
    return values[-1]


def test_the_image_is_slim_non_root_and_health_checked(final_stage: list[tuple[str, str]]) -> None:
    assert final_stage[0][1].startswith("python:3.11-slim")
    user = last(final_stage, "USER")
    assert user.split(":")[0] not in ("root", "0")
    health = last(final_stage, "HEALTHCHECK")
    assert health.split(" CMD ")[1].startswith("[") and "/-/healthz" in health
    assert {"/repos", "/cache"} <= set(json.loads(last(final_stage, "VOLUME")))
    assert last(final_stage, "EXPOSE") == env_of(last(final_stage, "ENV"))["PACKSERVE_PORT"]
    # The console script the image runs is app.cli:main, which `python -m app` also runs.
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert json.loads(last(final_stage, "ENTRYPOINT")) == ["packserve"]
    assert scripts["packserve"] == "app.cli:main"
    for _, args in (i for i in final_stage if i[0] == "COPY" and "--from" not in i[1]):
        for source in args.split()[:-1]:
            assert (ROOT / source).exists(), source


def test_the_image_command_serves_a_repository_and_passes_its_healthcheck(
    final_stage: list[tuple[str, str]], site_repos: SiteRepos, tmp_path: Path
) -> None:
    env: dict[str, str] = {}
    for word, args in final_stage:
        if word == "ENV":
            env.update(env_of(args))
    # The volumes, mapped to this machine; a free port instead of the image's 8000.
    assert env["PACKSERVE_REPOSITORY"] == "/repos" and env["PACKSERVE_CACHE_DIR"] == "/cache"
    port = free_port()
    env.update(
        PACKSERVE_REPOSITORY=str(site_repos.gc), PACKSERVE_CACHE_DIR=str(tmp_path),
        PACKSERVE_PORT=str(port), PACKSERVE_HOST="127.0.0.1",
    )
    command = json.loads(last(final_stage, "ENTRYPOINT")) + json.loads(last(final_stage, "CMD"))
    argv = [*PACKSERVE, *command[1:]]
    health = json.loads(last(final_stage, "HEALTHCHECK").split(" CMD ", 1)[1])
    with running(argv, env, port) as server:
        oid = tree_files(site_repos.gc, "main")["README.md"]
        assert server.client.get("/main/README.md").content == cat_blob(site_repos.gc, oid)
        probe = subprocess.run(
            [sys.executable, *health[1:]], env={**env}, capture_output=True, timeout=30
        )
        assert probe.returncode == 0, probe.stderr
    # With nothing listening the same probe fails, so it does test something.
    assert subprocess.run([sys.executable, *health[1:]], env=env, capture_output=True,
                          timeout=30).returncode != 0
