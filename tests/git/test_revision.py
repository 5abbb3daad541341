"""URL revision resolution: order of rules, longest prefix, ids, abbreviations, bad names."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.git import (
    AmbiguousRevision,
    GitError,
    InvalidName,
    ObjectId,
    RefNotFound,
    Repository,
)
from app.git.layout import discover
from app.git.refs.store import RefStore
from app.git.revision import ABBREV_PROBE_LIMIT, RevisionResolver
from tests.git.conftest import RepoFactory
from tests.git.fixtures import run_git
from tests.git.refrepos import engine_git_env

Rich = tuple[Repository, Path]


@pytest.fixture(scope="module")
def rich(git_repos: RepoFactory) -> Rich:
    path = git_repos("rich")
    return Repository.open(path, refs_ttl=0), path


def rev(path: Path, spec: str) -> ObjectId:
    out = run_git(path, "rev-parse", spec, env=engine_git_env(path.parent / "h"))
    return ObjectId.from_hex(out.decode().strip())


@pytest.mark.parametrize(("url", "commit", "kind", "ref", "full_ref", "path", "slash"), [
    ("main", "main", "branch", "main", "refs/heads/main", "", False),
    ("main/", "main", "branch", "main", "refs/heads/main", "", True),
    ("main/docs/", "main", "branch", "main", "refs/heads/main", "docs", True),
    ("feature/x/docs/a.txt", "feature/x", "branch", "feature/x", "refs/heads/feature/x",
     "docs/a.txt", False),
    # A branch named like a directory: "docs/a.txt" is branch docs, path a.txt.
    ("docs/a.txt", "docs", "branch", "docs", "refs/heads/docs", "a.txt", False),
    # Tag and branch with one short name: the tag wins, as in git rev-parse.
    ("same/x", "refs/tags/same^{commit}", "tag", "same", "refs/tags/same", "x", False),
    ("heads/same/x", "refs/heads/same", "branch", "heads/same", "refs/heads/same", "x", False),
    ("refs/heads/same", "refs/heads/same", "branch", "refs/heads/same", "refs/heads/same", "",
     False),
    ("tags/v1.0", "v1.0^{commit}", "tag", "tags/v1.0", "refs/tags/v1.0", "", False),
    ("refs/tags/v1.0-outer/a", "v1.0^{commit}", "tag", "refs/tags/v1.0-outer",
     "refs/tags/v1.0-outer", "a", False),
    ("v0.1/README.md", "v0.1", "tag", "v0.1", "refs/tags/v0.1", "README.md", False),
    ("alias/x", "main", "branch", "alias", "refs/heads/alias", "x", False),
    ("HEAD/docs/a.txt", "main", "branch", "HEAD", "refs/heads/main", "docs/a.txt", False),
])
def test_resolve_names(rich: Rich, url: str, commit: str, kind: str, ref: str,
                       full_ref: str, path: str, slash: bool) -> None:
    repo, root = rich
    target = repo.resolve(url)
    assert target.commit == rev(root, commit)
    assert (target.kind, target.ref, target.full_ref, target.path, target.trailing_slash) == (
        kind, ref, full_ref, path, slash)


def test_full_ids(rich: Rich) -> None:
    repo, root = rich
    c1 = rev(root, "v0.1")
    target = repo.resolve(f"{c1.hex()}/docs/a.txt")
    assert (target.commit, target.kind, target.full_ref, target.path) == (
        c1, "commit", None, "docs/a.txt")
    assert repo.resolve(c1.hex().upper()).commit == c1
    # A full tag id peels to its commit (tag of a tag too).
    outer = rev(root, "refs/tags/v1.0-outer")
    assert repo.resolve(outer.hex()).commit == rev(root, "v1.0^{commit}")
    # A full blob or tree id names no commit.
    with pytest.raises(RefNotFound):
        repo.resolve(rev(root, "main:README.md").hex())
    with pytest.raises(RefNotFound):
        repo.resolve(rev(root, "tree-tag").hex())


def test_abbreviated_ids(rich: Rich) -> None:
    repo, root = rich
    c3 = rev(root, "feature/x")
    target = repo.resolve(c3.hex()[:7] + "/docs/a.txt")
    assert (target.commit, target.kind, target.ref, target.path) == (
        c3, "abbrev", c3.hex()[:7], "docs/a.txt")
    assert repo.resolve(c3.hex()[:4]).commit == c3
    with pytest.raises(RefNotFound):
        repo.resolve(c3.hex()[:3])  # below git's minimum_abbrev
    with pytest.raises(RefNotFound):
        repo.resolve(rev(root, "main:README.md").hex()[:10])  # a blob is not commit-ish


@pytest.mark.parametrize("url", ["tree-tag", "blob-tag/x", "pull/1/head", "refs/pull/1/head",
                                 "nope", "feature", "refs/heads", "remotes/origin/main"])
def test_not_found(rich: Rich, url: str) -> None:
    repo, _ = rich
    with pytest.raises(RefNotFound):
        repo.resolve(url)


@pytest.mark.parametrize("url", ["", "/", "/main", "main//x", "main/../x", "main/./x", "..",
                                 "ma\x01in", "main/a\x7f", "@", "x.lock/a", "~x", ".hidden",
                                 "a:b", "main/\ud800"])
def test_invalid_names(rich: Rich, url: str) -> None:
    repo, _ = rich
    with pytest.raises(InvalidName):
        repo.resolve(url)


def test_configured_namespace(git_repos: RepoFactory) -> None:
    path = git_repos("rich")
    repo = Repository.open(path, namespaces=("refs/heads/", "refs/tags/", "refs/pull/"))
    target = repo.resolve("pull/1/head/README.md")
    assert (target.full_ref, target.path) == ("refs/pull/1/head", "README.md")
    assert "refs/pull/1/head" in repo.refs()
    with pytest.raises(InvalidName):
        Repository.open(path, namespaces=("heads/",))


def test_detached_and_unborn_head(tmp_path: Path, git_repos: RepoFactory) -> None:
    env = engine_git_env(tmp_path / "home")
    clone = tmp_path / "clone"
    run_git(tmp_path, "clone", "-q", str(git_repos("rich")), str(clone), env=env)
    run_git(clone, "checkout", "-q", "--detach", "HEAD~1", env=env)
    repo = Repository.open(clone)
    assert repo.head() is None
    target = repo.resolve("HEAD")
    assert (target.full_ref, target.commit) == ("HEAD", rev(clone, "HEAD"))
    empty = tmp_path / "empty"
    run_git(tmp_path, "init", "-q", "-b", "trunk", str(empty), env=env)
    repo = Repository.open(empty)
    assert repo.head() == "refs/heads/trunk"
    assert repo.refs() == {}
    with pytest.raises(RefNotFound):
        repo.resolve("HEAD")


class FakeObjects:
    """Hand-written object store: ids → type codes; tags point at ``tag_targets``."""

    def __init__(self, types: dict[ObjectId, int]) -> None:
        self.types = types

    def header(self, oid: ObjectId) -> tuple[int, int]:
        from app.git.errors import ObjectNotFound

        if oid not in self.types:
            raise ObjectNotFound(oid.hex())
        return self.types[oid], 0

    def read(self, oid: ObjectId) -> tuple[int, bytes]:
        raise AssertionError("no tags in this fake")

    def find_prefix(self, prefix: str, limit: int) -> list[ObjectId]:
        return sorted(o for o in self.types if o.hex().startswith(prefix))[:limit]


def _oid(hex_prefix: str) -> ObjectId:
    return ObjectId.from_hex(hex_prefix.ljust(40, "0"))


def _resolver(path: Path, types: dict[ObjectId, int]) -> RevisionResolver:
    fake = FakeObjects(types)
    refs = RefStore(discover(path), 20, ("refs/heads/", "refs/tags/"), ttl=0)
    return RevisionResolver(refs, fake.header, fake.read, fake.find_prefix, 20)


def test_abbrev_ambiguity_counts_only_commitish(git_repos: RepoFactory) -> None:
    path = git_repos("rich-bare")
    resolver = _resolver(path, {_oid("abcd1"): 1, _oid("abcd2"): 3, _oid("abce"): 1})
    assert resolver.resolve("abcd").commit == _oid("abcd1")  # the blob does not count
    resolver = _resolver(path, {_oid("abcd1"): 1, _oid("abcd2"): 1})
    with pytest.raises(AmbiguousRevision, match="abcd1.*abcd2"):
        resolver.resolve("abcd/x")
    assert resolver.resolve("abcd1").commit == _oid("abcd1")
    many = {_oid(f"beef{n:03x}"): 3 for n in range(ABBREV_PROBE_LIMIT)}
    with pytest.raises(AmbiguousRevision):
        _resolver(path, many).resolve("beef")


def test_sha256_ids(git_repos: RepoFactory) -> None:
    path = git_repos("rich-sha256")
    repo = Repository.open(path)
    out = run_git(path, "rev-parse", "main", "v1^{commit}",
                     env=engine_git_env(path.parent / "h")).decode().split()
    main, v1 = (ObjectId(bytes.fromhex(h)) for h in out)
    assert len(main) == 32
    assert repo.resolve(main.hex() + "/a.txt").commit == main
    assert repo.resolve(main.hex()[:40]).kind == "abbrev"  # 40 hex is short in SHA-256
    assert repo.resolve("v1/dir/b.txt").commit == v1
    assert repo.lookup(v1, "link").path == "dir/b.txt"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("mainfeturxv1.0/-@{}~^:?*[\\ \x00\x7fHEADabcdef0123"))
               | st.characters(), max_size=40))
def test_arbitrary_url_paths_raise_only_engine_errors(git_repos: RepoFactory, url: str) -> None:
    repo = Repository.open(git_repos("rich"))
    try:
        target = repo.resolve(url)
    except GitError:
        return
    assert url.startswith(target.ref) or url.lower().startswith(target.ref.lower())
    try:
        repo.lookup(target.commit, target.path)
    except GitError:
        pass
