"""Repository façade against the real git: refs, trees, listings and times are byte-exact."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from app.git import (
    CorruptRefs,
    ObjectId,
    Repository,
    UnsupportedRepository,
)
from tests.git.conftest import RepoFactory
from tests.git.fixtures import run_git
from tests.git.refrepos import engine_git_env

DIFFERENTIAL = [
    "rich",
    "rich-bare",
    "rich-gitfile",
    "rich-worktree",
    "rich-sha256",
    "packed-noheader",
    "packed-peeled",
    "packed-unsorted",
]


def git_at(path: Path, *args: str) -> bytes:
    return run_git(path, *args, env=engine_git_env(path.parent / "home-test"))


def git_refs(path: Path) -> dict[str, str]:
    """Exposed refs that peel to a commit, per ``git rev-parse <ref>^{commit}``."""
    names = git_at(path, "for-each-ref", "--format=%(refname)", "refs/heads", "refs/tags")
    out: dict[str, str] = {}
    for name in names.decode().split():
        done = subprocess.run(["git", "rev-parse", "--verify", "-q", f"{name}^{{commit}}"],
                              cwd=path, capture_output=True,
                              env=engine_git_env(path.parent / "home-test"))
        if done.returncode == 0:
            out[name] = done.stdout.decode().strip()
    return out


def git_commits(path: Path) -> list[str]:
    return git_at(path, "rev-list", "--all").decode().split()


def ls_tree(path: Path, treeish: str, *, recursive: bool) -> list[tuple[int, str, str, str]]:
    """(mode, type, oid, path) from ``git ls-tree -z [-r -t]``."""
    args = ["ls-tree", "-z", "--full-tree"] + (["-r", "-t"] if recursive else []) + [treeish]
    rows = []
    for record in git_at(path, *args).split(b"\0"):
        if not record:
            continue
        meta, _, name = record.partition(b"\t")
        mode, kind, oid = meta.decode().split()
        rows.append((int(mode, 8), kind, oid, name.decode("utf-8", "surrogateescape")))
    return rows


@pytest.fixture(params=DIFFERENTIAL)
def repo_path(request: pytest.FixtureRequest, git_repos: RepoFactory) -> Path:
    name: str = request.param
    return git_repos(name)


def test_refs_equal_git_rev_parse(repo_path: Path) -> None:
    with Repository.open(repo_path, refs_ttl=0) as repo:
        got = {name: oid.hex() for name, oid in repo.refs().items()}
    assert got == git_refs(repo_path)
    assert got  # every fixture has refs


def test_resolve_every_ref_by_full_and_short_name(repo_path: Path) -> None:
    expected = git_refs(repo_path)
    with Repository.open(repo_path, refs_ttl=0) as repo:
        for name, oid in expected.items():
            target = repo.resolve(name + "/")
            assert (target.commit.hex(), target.full_ref, target.path) == (oid, name, "")
            short = name.removeprefix("refs/heads/").removeprefix("refs/tags/")
            target = repo.resolve(f"{short}/some/path")
            want = git_at(repo_path, "rev-parse", f"{short}^{{commit}}").decode().strip()
            assert target.commit.hex() == want, short
            assert target.path == "some/path"


def test_lookup_and_list_dir_equal_ls_tree(repo_path: Path) -> None:
    with Repository.open(repo_path, refs_ttl=0) as repo:
        for commit_hex in git_commits(repo_path):
            commit = ObjectId.from_hex(commit_hex)
            rows = ls_tree(repo_path, commit_hex, recursive=True)
            root_tree = git_at(repo_path, "rev-parse", f"{commit_hex}^{{tree}}").decode().strip()
            root = repo.lookup(commit, "")
            assert (root.kind, root.oid.hex(), root.path) == ("tree", root_tree, "")
            for mode, kind, oid, path in rows:
                if kind == "commit" or mode == 0o120000:
                    continue  # gitlinks and symlinks: see test_tree.py
                entry = repo.lookup(commit, path)
                assert (entry.mode, entry.kind, entry.oid.hex(), entry.path) == (
                    mode, kind, oid, path)
            for tree in [root_tree] + [oid for _, kind, oid, _ in rows if kind == "tree"]:
                listing = [(e.mode, e.oid.hex(), e.name, e.kind) for e in repo.list_dir(
                    ObjectId.from_hex(tree))]
                want = [(mode, oid, name, {0o120000: "symlink", 0o160000: "gitlink"}.get(
                    mode, kind)) for mode, kind, oid, name in ls_tree(repo_path, tree,
                                                                       recursive=False)]
                assert listing == want


def test_commit_time_equals_git_log(repo_path: Path) -> None:
    with Repository.open(repo_path, refs_ttl=0) as repo:
        for commit_hex in git_commits(repo_path):
            want = int(git_at(repo_path, "log", "-1", "--format=%ct", commit_hex))
            assert repo.commit_time(ObjectId.from_hex(commit_hex)) == want


def test_blobs_equal_cat_file(repo_path: Path) -> None:
    with Repository.open(repo_path, refs_ttl=0) as repo:
        head = git_at(repo_path, "rev-parse", "HEAD").decode().strip()
        for _mode, kind, oid_hex, _ in ls_tree(repo_path, head, recursive=True):
            if kind != "blob":
                continue
            oid = ObjectId.from_hex(oid_hex)
            content = git_at(repo_path, "cat-file", "blob", oid_hex)
            assert repo.read_blob(oid) == content
            assert b"".join(repo.iter_blob(oid, 7)) == content
            assert repo.blob(oid).size == repo.object_size(oid) == len(content)


def test_open_metadata(git_repos: RepoFactory) -> None:
    sha1 = Repository.open(git_repos("rich"))
    assert (sha1.object_format, sha1.hash_len) == ("sha1", 20)
    assert sha1.git_dir == git_repos("rich") / ".git"
    sha256 = Repository.open(git_repos("rich-sha256"))
    assert (sha256.object_format, sha256.hash_len) == ("sha256", 32)


def test_head_per_layout(git_repos: RepoFactory) -> None:
    assert Repository.open(git_repos("rich")).head() == "refs/heads/main"
    assert Repository.open(git_repos("rich-bare")).head() == "refs/heads/main"
    assert Repository.open(git_repos("rich-gitfile")).head() == "refs/heads/main"
    # A linked worktree has its own HEAD, shared refs.
    wt = Repository.open(git_repos("rich-worktree"))
    assert wt.head() == "refs/heads/feature/x"
    assert wt.resolve("HEAD").full_ref == "refs/heads/feature/x"
    assert wt.git_dir.parent.name == "worktrees"


def test_reftable_is_refused_clearly(git_repos: RepoFactory) -> None:
    with pytest.raises(UnsupportedRepository, match="reftable"):
        Repository.open(git_repos("reftable"))


def test_symref_loop_and_broken_refs(git_repos: RepoFactory) -> None:
    repo = Repository.open(git_repos("symref-loop"), refs_ttl=0)
    with pytest.raises(CorruptRefs, match="loop"):
        repo.resolve("loop1")
    # git:refs.c reads at most SYMREF_MAXDEPTH = 5 refs: 4 symrefs + main resolve, 5 do not
    # (checked with git 2.39: `git rev-parse deep2` fails, `deep3` works).
    with pytest.raises(CorruptRefs, match="deeper"):
        repo.resolve("deep2")
    assert repo.resolve("deep3").commit == repo.resolve("main").commit
    with pytest.raises(CorruptRefs):
        repo.resolve("garbage/x")
    refs = repo.refs()  # broken refs are skipped, as git for-each-ref skips them
    assert "refs/heads/main" in refs and "refs/heads/loop1" not in refs
    assert "refs/heads/garbage" not in refs


def test_push_and_gc_show_up_without_reopening(tmp_path: Path, git_repos: RepoFactory) -> None:
    src = git_repos("rich")
    env = engine_git_env(tmp_path / "home")
    clone = tmp_path / "clone.git"
    run_git(tmp_path, "clone", "-q", "--bare", str(src), str(clone), env=env)
    repo = Repository.open(clone, refs_ttl=0)
    before = repo.refs()
    assert "refs/heads/pushed" not in before
    main = before["refs/heads/main"]
    # A new branch (loose ref), then a moved branch, then pack-refs (loose deleted).
    run_git(clone, "update-ref", "refs/heads/pushed", main.hex(), env=env)
    assert repo.refs()["refs/heads/pushed"] == main
    feature = before["refs/heads/feature/x"]
    run_git(clone, "update-ref", "refs/heads/main", feature.hex(), env=env)
    assert repo.resolve("main").commit == feature
    run_git(clone, "pack-refs", "--all", "--prune", env=env)
    assert repo.resolve("main").commit == feature
    run_git(clone, "update-ref", "-d", "refs/heads/pushed", env=env)
    assert "refs/heads/pushed" not in repo.refs()
    run_git(clone, "gc", "-q", "--prune=now", env=env)
    assert repo.lookup(feature, "docs/a.txt").kind == "blob"


def test_ttl_keeps_snapshot(tmp_path: Path, git_repos: RepoFactory) -> None:
    env = engine_git_env(tmp_path / "home")
    clone = tmp_path / "clone.git"
    run_git(tmp_path, "clone", "-q", "--bare", str(git_repos("rich")), str(clone), env=env)
    repo = Repository.open(clone, refs_ttl=3600)
    main = repo.refs()["refs/heads/main"]
    run_git(clone, "update-ref", "refs/heads/later", main.hex(), env=env)
    assert "refs/heads/later" not in repo.refs()  # trusted for the TTL
    assert "refs/heads/later" in Repository.open(clone, refs_ttl=3600).refs()


def test_concurrent_reads_while_refs_move(tmp_path: Path, git_repos: RepoFactory) -> None:
    import threading

    env = engine_git_env(tmp_path / "home")
    clone = tmp_path / "clone.git"
    run_git(tmp_path, "clone", "-q", "--bare", str(git_repos("rich")), str(clone), env=env)
    repo = Repository.open(clone, refs_ttl=0)
    refs = repo.refs()
    allowed = {refs["refs/heads/main"], refs["refs/heads/feature/x"]}
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                target = repo.resolve("main/docs/a.txt")
                if target.commit not in allowed:
                    raise RuntimeError(f"unexpected commit {target.commit.hex()}")
                repo.lookup(target.commit, target.path)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for thread in threads:
        thread.start()
    for n in range(20):
        new = refs["refs/heads/feature/x" if n % 2 == 0 else "refs/heads/main"]
        run_git(clone, "update-ref", "refs/heads/main", new.hex(), env=env)
        if n == 10:
            run_git(clone, "pack-refs", "--all", env=env)
    stop.set()
    for thread in threads:
        thread.join()
    assert errors == []
