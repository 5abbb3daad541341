"""Pristine fixture repositories built with the real ``git``, and what git says is in them.

Rules:
1. Builds are deterministic: no system config, ``HOME`` in a temporary directory, fixed
   identities and dates, ``gc.auto=0`` so nothing repacks behind the test's back.
2. Every fact the fault tests compare against (object bytes, pack layout, refs, the objects
   a URL depends on) comes from ``git`` itself, never from the engine under test.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from pathlib import Path

from tests.git.fixtures import git_env as fixture_git_env
from tests.git.fixtures import parse_cat_file_batch, run_git
from tests.packwriter import EntryLayout, entry_header_len

# Files committed on the ``faults`` branch after the last repack, so their blobs are loose
# and a corpus case can swap a blob for a hand-written hostile pack entry claiming its id.
FAULT_FILES: dict[str, bytes] = {
    "cycle-x.txt": b"cycle x: reads its base, which reads this\n",
    "cycle-y.txt": b"cycle y: reads its base, which reads this\n",
    "self-ref.txt": b"a REF_DELTA whose base is itself\n",
    "self-ofs.txt": b"an OFS_DELTA at distance 0\n",
    "bomb.bin": b"the real content is small; the delta claims 4 GiB\n",
    "missing-base.txt": b"a REF_DELTA to a base that exists nowhere\n",
    "copy-oob.txt": b"a delta copying past the end of its base\n",
    "opcode-zero.txt": b"a delta with the reserved opcode 0\n",
}
DEEP_CHAIN_LENGTH = 5000
DEEP_CHAIN_BASE = b"deep chain base line\n" * 4


def deep_chain_contents() -> list[bytes]:
    """Contents of every level of the hand-written deep delta chain (level 0 is whole)."""
    levels = [DEEP_CHAIN_BASE]
    for level in range(1, DEEP_CHAIN_LENGTH + 1):
        levels.append(levels[-1] + b"%d\n" % level)
    return levels


FAULT_IDENTITY = ("Fault Tester", "faults@example.invalid")


def git_env(home: Path) -> dict[str, str]:
    """The shared fixture environment (``tests.git.fixtures.git_env``) with the fault
    tests' identity and start date."""
    return fixture_git_env(
        home, date="@1600000000 +0000", author=FAULT_IDENTITY, committer=FAULT_IDENTITY
    )


@dataclass(frozen=True)
class PackFacts:
    """One pack as ``git verify-pack -v`` describes it."""

    name: str  # "pack-<hex>"
    size: int
    has_rev: bool
    entries: dict[str, EntryLayout]  # object hex -> where its entry sits
    bases: dict[str, str]  # delta object hex -> base object hex


@dataclass(frozen=True)
class UrlFacts:
    """A URL path (``<ref>/<path>``) and the objects serving it needs."""

    ref: str
    path: str
    blob: str
    must: frozenset[str]  # commit, trees along the path, the blob
    may: frozenset[str]  # annotated tag objects (the engine may peel via packed-refs)


@dataclass
class BaseRepo:
    """A pristine repository plus git's account of everything in it."""

    name: str
    root: Path  # the working tree; the git dir is root / ".git"
    hash_len: int
    objects: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    packs: dict[str, PackFacts] = field(default_factory=dict)
    loose: set[str] = field(default_factory=set)
    refs: dict[str, str] = field(default_factory=dict)  # full ref name -> peeled commit hex
    loose_refs: set[str] = field(default_factory=set)
    urls: dict[str, UrlFacts] = field(default_factory=dict)

    @property
    def git_dir(self) -> Path:
        """The ``.git`` directory."""
        return self.root / ".git"

    def pack_path(self, name: str, ext: str, root: Path | None = None) -> Path:
        """Path of ``<name>.<ext>`` in the pack directory of ``root`` (default: pristine)."""
        return (root or self.root) / ".git" / "objects" / "pack" / f"{name}.{ext}"

    def where(self, hex_id: str) -> tuple[str, EntryLayout] | None:
        """The pack holding ``hex_id`` and its entry layout, or None when loose."""
        for pack in self.packs.values():
            if hex_id in pack.entries:
                return pack.name, pack.entries[hex_id]
        return None

    def base_of(self, hex_id: str) -> str | None:
        """The delta base of a packed object, or None when stored whole or loose."""
        for pack in self.packs.values():
            if hex_id in pack.bases:
                return pack.bases[hex_id]
        return None

    def stored_stream(self, hex_id: str) -> tuple[str, int, bytes] | None:
        """(pack id hex, offset, exact zlib stream) for a whole-stored packed object."""
        found = self.where(hex_id)
        if found is None or self.base_of(hex_id) is not None:
            return None
        name, layout = found
        data = self.pack_path(name, "pack").read_bytes()
        return data[-self.hash_len :].hex(), layout.offset, data[layout.zlib_start : layout.end]


def _words(rnd: random.Random, count: int) -> str:
    vocabulary = (
        "pack index delta tree blob commit tag ref branch zlib inflate stream offset fanout "
        "trailer checksum header object loose alternate mmap range etag vary gzip deflate"
    ).split()
    return " ".join(rnd.choice(vocabulary) for _ in range(count))


def _text(rnd: random.Random, lines: int) -> list[str]:
    return [f"{i:05d} {_words(rnd, rnd.randint(3, 9))}\n" for i in range(lines)]


class _Writer:
    """Writes the deterministic history shared by every base repository."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = env
        self.clock = 1600000000
        self.rnd = random.Random(20240521)

    def git(self, *args: str) -> bytes:
        return run_git(self.root, *args, env=self.env)

    def write(self, path: str, data: bytes | str) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data.encode() if isinstance(data, str) else data)

    def commit(self, message: str) -> None:
        self.clock += 3600
        date = f"@{self.clock} +0000"
        self.env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)

    def history(self) -> None:
        """Ten commits on main with files that deltify, a feature branch and two tags."""
        rnd = self.rnd
        app = _text(rnd, 900)
        guide = _text(rnd, 500)
        big = bytearray(rnd.randbytes(80 * 1024))
        self.write("README.md", "# fixture\n\nA repository the fault tests break.\n")
        self.write("index.html", "<!doctype html><title>fixture</title><p>hello</p>\n")
        self.write("data/empty.txt", b"")
        self.write("src/util/helpers.js", "".join(_text(rnd, 200)))
        for i in range(20):
            self.write(f"many/f{i:02d}.txt", f"small file {i}\n" * (i + 1))
        os.symlink("README.md", self.root / "link-to-readme")
        for n in range(10):
            for _ in range(8):
                app[rnd.randrange(len(app))] = f"{n:05d} {_words(rnd, 6)}\n"
            app.append(f"appended in commit {n}\n")
            guide[rnd.randrange(len(guide))] = f"edit {n}\n"
            for _ in range(4):
                big[rnd.randrange(len(big))] = rnd.randrange(256)
            self.write("src/app.py", "".join(app))
            self.write("docs/guide.md", "".join(guide))
            self.write("data/big.bin", bytes(big))
            self.commit(f"main commit {n}")
            if n == 4:
                self.env["GIT_COMMITTER_DATE"] = f"@{self.clock} +0000"
                self.git("tag", "-a", "v1.0", "-m", "release 1.0")
            if n == 6:
                self.git("tag", "light")
                self.git("checkout", "-q", "-b", "feature/x")
                self.write("feature.txt", "feature work\n")
                self.commit("feature commit 1")
                self.write("feature.txt", "feature work, continued\n")
                self.commit("feature commit 2")
                self.git("checkout", "-q", "main")

    def more(self, branch: str, count: int) -> None:
        """``count`` further commits on a new or existing branch, then back to main."""
        existing = self.git("branch", "--list", branch).strip()
        self.git("checkout", "-q", *(() if existing else ("-b",)), branch)
        for n in range(count):
            self.write(f"{branch}-notes.md", f"{branch} note {n}\n" + _words(self.rnd, 40))
            self.commit(f"{branch} commit {n}")
        self.git("checkout", "-q", "main")

    def faults_branch(self) -> None:
        """The ``faults`` branch: the loose blobs hostile packs will impersonate."""
        self.git("checkout", "-q", "-b", "faults")
        for name, data in FAULT_FILES.items():
            self.write(f"faults/{name}", data)
        self.write("faults/deep.txt", deep_chain_contents()[-1])
        self.commit("files whose blobs the corpus replaces")
        self.git("checkout", "-q", "main")


def build_base(kind: str, root: Path, home: Path, *, object_format: str = "sha1") -> BaseRepo:
    """Build one pristine repository of ``kind``.

    - ``deltas``: ``git gc --aggressive`` (pack A, deep delta chains, ``.rev``), then an
      incremental ``git repack -d`` (pack B), then loose commits (main tip and ``faults``).
    - ``nodelta``: everything in one ``git repack -adf --window=0`` pack, no ``.rev``.
    - ``loose``: no pack at all.
    """
    env = git_env(home)
    root.mkdir(parents=True)
    run_git(root, "init", "-q", "-b", "main", f"--object-format={object_format}", ".", env=env)
    for key, value in (
        ("gc.auto", "0"),
        ("core.symlinks", "true"),
        ("pack.writeReverseIndex", "true" if kind == "deltas" else "false"),
    ):
        run_git(root, "config", key, value, env=env)
    writer = _Writer(root, env)
    writer.history()
    if kind == "deltas":
        run_git(root, "gc", "-q", "--aggressive", "--prune=now", env=env)
        writer.more("side", 2)
        writer.more("main", 1)
        run_git(root, "repack", "-q", "-d", env=env)
        writer.more("main", 1)
    elif kind == "nodelta":
        writer.more("side", 2)
        run_git(root, "repack", "-q", "-adf", "--window=0", env=env)
        run_git(root, "pack-refs", "--all", env=env)
        run_git(root, "prune-packed", env=env)
    else:
        writer.more("side", 2)
    writer.faults_branch()
    base = BaseRepo(kind, root, 32 if object_format == "sha256" else 20)
    _describe(base, env)
    return base


def _describe(base: BaseRepo, env: dict[str, str]) -> None:
    """Fill ``base`` with git's own account of its objects, packs, refs and URLs."""
    root = base.root
    raw = run_git(root, "cat-file", "--batch-all-objects", "--batch", env=env)
    for hex_id, type_name, content in parse_cat_file_batch(raw):
        base.objects[hex_id] = (type_name, content)
    objects_dir = base.git_dir / "objects"
    for sub in objects_dir.iterdir():
        if len(sub.name) == 2 and sub.is_dir():
            base.loose.update(sub.name + f.name for f in sub.iterdir())
    for idx in sorted((objects_dir / "pack").glob("*.idx")):
        base.packs[idx.stem] = _pack_facts(idx, base.hash_len, env)
    seen = set(base.loose)
    for pack in base.packs.values():
        if seen & pack.entries.keys():
            raise RuntimeError("fixture has duplicate objects; the corpus assumes none")
        seen |= pack.entries.keys()
    if seen != base.objects.keys():
        raise RuntimeError("git cat-file and the pack/loose listing disagree")
    listing = run_git(
        root, "for-each-ref", "--format=%(refname) %(objecttype) %(objectname)", env=env
    )
    tag_objects: dict[str, str] = {}
    for line in listing.decode().splitlines():
        name, obj_type, hex_id = line.split()
        base.refs[name] = run_git(root, "rev-parse", f"{name}^{{commit}}", env=env).decode().strip()
        if obj_type == "tag":
            tag_objects[name] = hex_id
        if (base.git_dir / name).is_file():
            base.loose_refs.add(name)
    url_refs: dict[str, tuple[str, frozenset[str]]] = {}
    for name, commit in base.refs.items():
        short = name.removeprefix("refs/heads/").removeprefix("refs/tags/")
        url_refs[short] = (commit, frozenset([tag_objects[name]] if name in tag_objects else []))
    url_refs["HEAD"] = (base.refs["refs/heads/main"], frozenset())
    url_refs[base.refs["refs/heads/main"]] = (base.refs["refs/heads/main"], frozenset())
    url_refs[base.refs["refs/tags/v1.0"]] = (base.refs["refs/tags/v1.0"], frozenset())
    for ref, (commit, may) in url_refs.items():
        for path, (blob, chain) in _blob_paths(root, commit, env).items():
            base.urls[f"{ref}/{path}"] = UrlFacts(ref, path, blob, chain | {commit, blob}, may)


def _blob_paths(
    root: Path, commit: str, env: dict[str, str]
) -> dict[str, tuple[str, frozenset[str]]]:
    """Regular-file paths of ``commit`` -> (blob hex, the trees from the root down to it)."""
    root_tree = run_git(root, "rev-parse", f"{commit}^{{tree}}", env=env).decode().strip()
    trees = {"": root_tree}
    blobs: dict[str, str] = {}
    for line in run_git(root, "ls-tree", "-r", "-t", "--full-tree", commit, env=env).splitlines():
        meta, path = line.decode().split("\t", 1)
        mode, obj_type, hex_id = meta.split()
        if obj_type == "tree":
            trees[path] = hex_id
        elif obj_type == "blob" and mode in ("100644", "100755"):
            blobs[path] = hex_id
    out: dict[str, tuple[str, frozenset[str]]] = {}
    for path, blob in blobs.items():
        parts = path.split("/")
        chain = {trees["/".join(parts[:i])] for i in range(len(parts))}
        out[path] = (blob, frozenset(chain))
    return out


def _pack_facts(idx: Path, hash_len: int, env: dict[str, str]) -> PackFacts:
    pack_path = idx.with_suffix(".pack")
    data = pack_path.read_bytes()
    entries: dict[str, EntryLayout] = {}
    bases: dict[str, str] = {}
    for line in run_git(idx.parent, "verify-pack", "-v", idx.name, env=env).decode().splitlines():
        fields = line.split()
        if (
            len(fields) < 5
            or len(fields[0]) != 2 * hash_len
            or fields[1] not in ("commit", "tree", "blob", "tag")
        ):
            continue
        hex_id, _type, _size, raw_len, offset = fields[:5]
        type_code, header_len = entry_header_len(data, int(offset), hash_len)
        entries[hex_id] = EntryLayout(int(offset), header_len, int(raw_len), type_code)
        if len(fields) >= 7:
            bases[hex_id] = fields[6]
    return PackFacts(idx.stem, len(data), idx.with_suffix(".rev").exists(), entries, bases)
