"""The corpus agrees with git: git is the reference reader for every expected state.

For each case, ``git cat-file`` must fail on every object the corpus says must fail, and
return the pristine bytes for every object the corpus says must pass. Two cases are
deliberately stricter than git (noted below).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest

from tests.faults.corpus import CASES, Corrupted, State

# git streams blobs above core.bigFileThreshold and then never compares the declared size
# with what the stream held, so it prints the real content of these objects. The engine
# must not: a 4 GiB Content-Length over 50 bytes is a broken response.
GIT_IS_LENIENT = {"huge-declared-size", "loose-huge-header"}


def _git_batch(corrupted: Corrupted, env: dict[str, str], hex_ids: list[str]) -> list[bytes]:
    """Contents of ``hex_ids`` read by one ``git cat-file --batch``."""
    proc = subprocess.run(
        ["git", "cat-file", "--batch"],
        cwd=corrupted.root,
        env=env,
        input="".join(f"{h}\n" for h in hex_ids).encode(),
        capture_output=True,
        timeout=60,
        check=True,
    )
    out, pos, contents = proc.stdout, 0, []
    for _ in hex_ids:
        line_end = out.index(b"\n", pos)
        size = int(out[pos:line_end].split()[2])
        contents.append(out[line_end + 1 : line_end + 1 + size])
        pos = line_end + 2 + size
    return contents


def _git_reads(corrupted: Corrupted, env: dict[str, str], hex_id: str) -> bytes | None:
    try:
        proc = subprocess.run(
            ["git", "cat-file", corrupted.base.objects[hex_id][0], hex_id],
            cwd=corrupted.root,
            env=env,
            capture_output=True,
            timeout=1,
            check=False,
        )
    except subprocess.TimeoutExpired:
        # git 2.39 spins forever on a REF_DELTA cycle; for us a hang counts as a refusal.
        return None
    return proc.stdout if proc.returncode == 0 else None


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", [case.name for case in CASES])
def test_git_agrees_with_the_corpus(
    name: str, corrupt: Callable[[str], Corrupted], fault_env: dict[str, str]
) -> None:
    corrupted = corrupt(name)
    objects = corrupted.base.objects
    passing = corrupted.by_state(State.PASS)
    for hex_id, content in zip(passing, _git_batch(corrupted, fault_env, passing), strict=True):
        assert content == objects[hex_id][1], hex_id
    if name not in GIT_IS_LENIENT:
        for hex_id in corrupted.by_state(State.FAIL):
            assert _git_reads(corrupted, fault_env, hex_id) is None, hex_id
    # Every case breaks something (or, for a hostile-but-valid case, is at least MAY).
    assert (
        corrupted.by_state(State.FAIL)
        or corrupted.by_state(State.MAY)
        or any(state != State.PASS for state in corrupted.urls.values())
    )
