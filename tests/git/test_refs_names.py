"""check-ref-format as a pure function (git:Documentation/git-check-ref-format.txt)."""

from __future__ import annotations

import pytest

from app.git import InvalidName
from app.git.refs.names import check_ref_format, require_ref_name

VALID = [
    "refs/heads/main",
    "refs/heads/feature/x",
    "refs/tags/v1.0",
    "refs/heads/ünï",
    "refs/heads/a-b_c+d",
    "refs/heads/x.y",
    "refs/heads/@x",
    "refs/heads/a@b",
    "refs/heads/-dash",
]
INVALID = [
    "",
    "@",
    "refs/heads/a..b",
    "refs/heads/.hidden",
    "refs/heads/x.lock",
    "refs/heads/x.lock/y",
    "refs/heads/x.",
    "refs/heads/x/",
    "/refs/heads/x",
    "refs//heads",
    "refs/heads/a b",
    "refs/heads/a~1",
    "refs/heads/a^",
    "refs/heads/a:b",
    "refs/heads/a?",
    "refs/heads/a*",
    "refs/heads/a[b",
    "refs/heads/a\\b",
    "refs/heads/a@{1}",
    "refs/heads/a\x00b",
    "refs/heads/a\x1fb",
    "refs/heads/a\x7fb",
    "refs/heads/a\tb",
]


@pytest.mark.parametrize("name", VALID)
def test_valid(name: str) -> None:
    assert check_ref_format(name)
    assert require_ref_name(name) == name


@pytest.mark.parametrize("name", INVALID)
def test_invalid(name: str) -> None:
    assert not check_ref_format(name)
    assert not check_ref_format(name, allow_onelevel=True)
    with pytest.raises(InvalidName):
        require_ref_name(name)


@pytest.mark.parametrize(("name", "onelevel"), [("HEAD", True), ("main", True), ("a.b", True)])
def test_onelevel(name: str, onelevel: bool) -> None:
    assert not check_ref_format(name)
    assert check_ref_format(name, allow_onelevel=True) is onelevel


@pytest.mark.parametrize("name", [n for n in VALID + INVALID if "\x00" not in n])
def test_agrees_with_git(name: str) -> None:
    import subprocess

    done = subprocess.run(["git", "check-ref-format", name], capture_output=True)
    assert (done.returncode == 0) is check_ref_format(name)
