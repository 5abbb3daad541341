"""Finding the git dir, and the repository-format check of the config."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.git import UnsupportedRepository
from app.git.gitconfig import parse_config, read_repository_format, repository_format
from app.git.layout import discover
from tests.git.conftest import RepoFactory


def test_layouts(git_repos: RepoFactory) -> None:
    rich = git_repos("rich")
    assert discover(rich).git_dir == rich / ".git"
    assert discover(rich / ".git").git_dir == rich / ".git"
    bare = discover(git_repos("rich-bare"))
    assert bare.git_dir == bare.common_dir == git_repos("rich-bare")
    assert discover(git_repos("rich-gitfile")).git_dir == rich / ".git"
    wt = discover(git_repos("rich-worktree"))
    assert wt.git_dir == rich / ".git" / "worktrees" / "wt"
    assert wt.common_dir == rich / ".git"
    assert wt.objects_dir == rich / ".git" / "objects"


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedRepository, match="not a git repository"):
        discover(tmp_path)
    with pytest.raises(UnsupportedRepository, match="not a directory"):
        discover(tmp_path / "missing")
    (tmp_path / ".git").write_text("nonsense\n")
    with pytest.raises(UnsupportedRepository, match="gitdir"):
        discover(tmp_path)
    (tmp_path / ".git").write_text("gitdir: elsewhere\n")
    with pytest.raises(UnsupportedRepository, match="not a git repository"):
        discover(tmp_path)


def test_config_syntax() -> None:
    values = parse_config(b"""
# comment
[core]
\tRepositoryFormatVersion = 1 ; trailing comment
\tbare
[Extensions]
\tobjectFormat = "sha256"
[remote "Origin"]
\turl = "a \\"quoted\\" \\\\ value" # c
[branch.Main]
\tmerge = refs/heads/main
[x] y = z
\tlong = one \\
two
""")
    assert values[("core", None, "repositoryformatversion")] == "1"
    assert values[("core", None, "bare")] == "true"
    assert values[("extensions", None, "objectformat")] == "sha256"
    assert values[("remote", "Origin", "url")] == 'a "quoted" \\ value'
    assert values[("branch", "main", "merge")] == "refs/heads/main"
    assert values[("x", None, "y")] == "z"
    assert values[("x", None, "long")] == "one two"


@pytest.mark.parametrize("text", [b"key = 1\n", b"[core\n", b"[core]\n=1\n",
                                  b'[core]\nx = "open\n', b"[core]\nx = a\\q\n"])
def test_config_malformed(text: bytes) -> None:
    with pytest.raises(UnsupportedRepository):
        parse_config(text)


def fmt(text: str) -> tuple[int, str]:
    result = repository_format(parse_config(text.encode()))
    return result.version, result.object_format


@pytest.mark.parametrize(("text", "expected"), [
    ("", (0, "sha1")),
    ("[core]\nrepositoryformatversion = 0\n[extensions]\nunknownthing = 1\n", (0, "sha1")),
    ("[core]\nrepositoryformatversion = 1\n", (1, "sha1")),
    ("[core]\nrepositoryformatversion = 1\n[extensions]\nobjectformat = sha256\n",
     (1, "sha256")),
    ("[core]\nrepositoryformatversion = 1\n[extensions]\npartialclone = origin\n"
     "worktreeConfig = true\npreciousObjects = true\nrefStorage = files\n", (1, "sha1")),
])
def test_format_accepted(text: str, expected: tuple[int, str]) -> None:
    assert fmt(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("[core]\nrepositoryformatversion = 2\n", "version 2"),
    ("[core]\nrepositoryformatversion = x\n", "repositoryformatversion"),
    ("[core]\nrepositoryformatversion = 1\n[extensions]\nrefStorage = reftable\n", "reftable"),
    ("[core]\nrepositoryformatversion = 0\n[extensions]\nrefStorage = reftable\n", "reftable"),
    ("[core]\nrepositoryformatversion = 1\n[extensions]\nfancy = 1\n", "fancy"),
    ("[core]\nrepositoryformatversion = 1\n[extensions]\nobjectformat = sha512\n", "sha512"),
    ("[core]\nrepositoryformatversion = 0\n[extensions]\nobjectformat = sha256\n", "v1-only"),
])
def test_format_refused(text: str, message: str) -> None:
    with pytest.raises(UnsupportedRepository, match=message):
        fmt(text)


def test_read_real_configs(git_repos: RepoFactory) -> None:
    assert read_repository_format(git_repos("rich") / ".git").object_format == "sha1"
    sha256 = read_repository_format(git_repos("rich-sha256") / ".git")
    assert (sha256.object_format, sha256.hash_len) == ("sha256", 32)


@given(st.binary(max_size=300))
def test_arbitrary_config_raises_only_unsupported(data: bytes) -> None:
    try:
        repository_format(parse_config(data))
    except UnsupportedRepository:
        pass
