"""Builders of fixture repositories with the real ``git`` binary, shared by the engine tests.

Rules:
1. Deterministic: history comes from one ``git fast-import`` stream with fixed dates, and
   every ``git`` runs with ``GIT_CONFIG_NOSYSTEM=1``, ``HOME`` set to a scratch directory and
   fixed author/committer identities. ``git_env`` and ``run_git`` are the one way the whole
   test suite runs ``git``; other areas pass their own identity and dates to ``git_env``.
2. Every builder takes a scratch root and returns the *git directory* of a bare repository
   (``<root>/<name>.git``); builders never touch another builder's output.
3. ``cat_file_all`` is the oracle: ``git cat-file --batch-all-objects --batch`` parsed into
   ``{oid: (type, content)}``.
4. Crafting helpers (``pack_entry``, ``craft_pack``, ``craft_idx_v2``) write hostile packs
   byte by byte (the model is git:t/lib-pack.sh) with the encoders of ``tests.packwriter``.

The repository-level fixtures (refs, trees, revisions, layouts) are in ``tests.git.refrepos``;
``tests/git/conftest.py`` serves both sets of builders by name.
"""

from __future__ import annotations

import os
import random
import struct
import subprocess
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

from tests import packwriter
from tests.packwriter import TYPE_CODES, TYPE_NAMES, digest, entry_header, idx_v2

EPOCH = 1_700_000_000


FIXTURE_AUTHOR = ("Fixture Author", "author@example.com")
FIXTURE_COMMITTER = ("Fixture Committer", "committer@example.com")


def git_env(
    home: Path,
    *,
    date: str = f"{EPOCH} +0000",
    committer_date: str | None = None,
    author: tuple[str, str] = FIXTURE_AUTHOR,
    committer: tuple[str, str] = FIXTURE_COMMITTER,
) -> dict[str, str]:
    """The environment every fixture ``git`` in the test suite runs with: the caller's
    environment without any ``GIT_*`` variable, no system or user configuration (``HOME``
    and ``XDG_CONFIG_HOME`` under ``home``), the C locale, and fixed identities and dates
    (``committer_date`` defaults to ``date``) so that every build gives the same ids."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        GIT_AUTHOR_NAME=author[0],
        GIT_AUTHOR_EMAIL=author[1],
        GIT_AUTHOR_DATE=date,
        GIT_COMMITTER_NAME=committer[0],
        GIT_COMMITTER_EMAIL=committer[1],
        GIT_COMMITTER_DATE=date if committer_date is None else committer_date,
        LC_ALL="C",
    )
    return env


def run_git(
    cwd: Path, *args: str, env: Mapping[str, str], input: bytes | None = None
) -> bytes:
    """Run ``git`` in ``cwd`` with ``env``; return stdout, raise with stderr on failure."""
    proc = subprocess.run(
        ["git", *args], cwd=cwd, input=input, env=dict(env), capture_output=True, check=False
    )
    if proc.returncode:
        raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout


def git(cwd: Path, *args: str, input: bytes | None = None) -> bytes:
    """``run_git`` with the default fixture environment (``HOME`` beside ``cwd``)."""
    home = cwd.parent / ".home"
    home.mkdir(exist_ok=True)
    return run_git(cwd, *args, env=git_env(home), input=input)


def hash_len_of(git_dir: Path) -> int:
    """20 or 32, from the repository's ``extensions.objectFormat``."""
    fmt = git(git_dir, "rev-parse", "--show-object-format").strip()
    return 32 if fmt == b"sha256" else 20


# -- the shared history ------------------------------------------------------------------------


def _data(payload: bytes) -> bytes:
    return b"data %d\n" % len(payload) + payload + b"\n"


def history_stream(commits: int = 120, *, zero_oid_len: int = 40) -> bytes:
    """A ``git fast-import`` stream: ``main`` with ``commits`` commits editing text, binary,
    big and empty files (so repacks produce long delta chains), a symlink, an executable, a
    gitlink, ``feature/x``, a lightweight tag, an annotated tag and a tag of that tag."""
    rng = random.Random(1234)
    words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
             for _ in range(400)]
    big = bytearray()
    while len(big) < 300_000:
        big += b" ".join(rng.choice(words) for _ in range(12)) + b"\n"
    binary = bytearray(rng.randbytes(6000))
    module_lines: list[bytes] = []
    guide = [b"line %d of the guide" % i for i in range(200)]
    gitlink = ("12" * zero_oid_len)[:zero_oid_len]
    out = bytearray()
    mark = 0

    def blob(payload: bytes) -> int:
        nonlocal mark
        mark += 1
        out.extend(b"blob\nmark :%d\n" % mark + _data(payload))
        return mark

    def commit(ref: str, n: int, files: dict[str, tuple[str, int]], parent: int | None) -> int:
        nonlocal mark
        mark += 1
        head = b"commit %s\nmark :%d\n" % (ref.encode(), mark)
        head += b"author A U Thor <author@example.com> %d +0000\n" % (EPOCH + n * 60)
        head += b"committer C O Mitter <committer@example.com> %d +0000\n" % (EPOCH + n * 60)
        head += _data(b"commit %d on %s\n\nbody of commit %d\n" % (n, ref.encode(), n))
        if parent is not None:
            head += b"from :%d\n" % parent
        for path, (mode, ref_mark) in sorted(files.items()):
            if mode == "160000":
                head += b"M 160000 %s %s\n" % (gitlink.encode(), path.encode())
            else:
                head += b"M %s :%d %s\n" % (mode.encode(), ref_mark, path.encode())
        out.extend(head + b"\n")
        return mark

    files: dict[str, tuple[str, int]] = {}
    files["empty.txt"] = ("100644", blob(b""))
    files["link"] = ("120000", blob(b"README.md"))
    files["tool.sh"] = ("100755", blob(b"#!/bin/sh\necho tool\n"))
    files["vendor/sub"] = ("160000", 0)
    parent: int | None = None
    marks: list[int] = []
    for n in range(commits):
        module_lines.append(b"def function_%d(x):\n    return x * %d + %d\n" % (n, n, n * n))
        files["src/mod.py"] = ("100644", blob(b"".join(module_lines)))
        guide[rng.randrange(len(guide))] = b"edited in commit %d" % n
        files["docs/guide.txt"] = ("100644", blob(b"\n".join(guide) + b"\n"))
        if n % 10 == 0:
            files["README.md"] = ("100644", blob(b"# Fixture\n\nRevision %d.\n" % n))
            for _ in range(8):
                binary[rng.randrange(len(binary))] = rng.randrange(256)
            files["bin/blob.bin"] = ("100644", blob(bytes(binary) + b"\0\xff"))
        if n % 40 == 0:
            big[rng.randrange(len(big)) : rng.randrange(len(big))] = b"[inserted %d]" % n
            files["big.txt"] = ("100644", blob(bytes(big)))
        parent = commit("refs/heads/main", n, files, parent)
        marks.append(parent)
    feature_parent = marks[len(marks) // 2]
    feature = dict(files)
    for n in range(3):
        feature[f"feature/file{n}.txt"] = ("100644", blob(b"feature %d\n" % n))
        feature_parent = commit("refs/heads/feature/x", 1000 + n, feature, feature_parent)
    out.extend(b"reset refs/tags/v0.1\nfrom :%d\n\n" % marks[0])
    mark += 1
    tag_mark = mark
    out.extend(b"tag v1.0\nmark :%d\nfrom :%d\n" % (tag_mark, marks[-1]))
    out.extend(b"tagger T Agger <tagger@example.com> %d +0000\n" % (EPOCH + 99_999))
    out.extend(_data(b"release 1.0\n"))
    out.extend(b"tag v1.0-tagged\nfrom :%d\n" % tag_mark)
    out.extend(b"tagger T Agger <tagger@example.com> %d +0000\n" % (EPOCH + 99_999))
    out.extend(_data(b"a tag of a tag\n"))
    return bytes(out)


def init_bare(path: Path, *, object_format: str = "sha1") -> Path:
    """``git init --bare`` at ``path`` with ``main`` as HEAD."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "--bare", f"--object-format={object_format}", ".")
    git(path, "symbolic-ref", "HEAD", "refs/heads/main")
    git(path, "config", "gc.auto", "0")
    return path


def fast_import(git_dir: Path, stream: bytes, *, loose: bool = False) -> None:
    """Feed ``stream`` to ``git fast-import`` (into loose objects if ``loose``)."""
    limit = ["-c", "fastimport.unpackLimit=1000000"] if loose else []
    git(git_dir, *limit, "fast-import", "--quiet", input=stream)


def pack_files(git_dir: Path, suffix: str = ".pack") -> list[Path]:
    """The repository's own ``objects/pack/*<suffix>`` files, sorted."""
    return sorted((git_dir / "objects" / "pack").glob(f"pack-*{suffix}"))


# -- builders: each returns a git dir ----------------------------------------------------------


def build_fastimport(root: Path) -> Path:
    """The history exactly as fast-import packed it (its own delta choices)."""
    repo = init_bare(root / "fastimport.git")
    fast_import(repo, history_stream())
    return repo


def build_loose(root: Path) -> Path:
    """Every object loose, no pack at all."""
    repo = init_bare(root / "loose.git")
    fast_import(repo, history_stream(), loose=True)
    assert not pack_files(repo)
    return repo


def _repacked(root: Path, name: str, *args: str, config: Iterable[str] = ()) -> Path:
    repo = init_bare(root / f"{name}.git")
    fast_import(repo, history_stream())
    cfg = [item for kv in config for item in ("-c", kv)]
    git(repo, *cfg, *args)
    return repo


def build_aggressive(root: Path) -> Path:
    """``git gc --aggressive``: window 250, depth 50 chains."""
    return _repacked(root, "aggressive", "gc", "--aggressive", "--prune=now", "-q")


def build_deep(root: Path) -> Path:
    """Chains deeper than git's default 50 (``--depth=4095``, git's maximum)."""
    return _repacked(root, "deep", "repack", "-adfq", "--window=250", "--depth=4095")


def build_nodelta(root: Path) -> Path:
    """``git repack -adf --window=0``: every object stored whole."""
    return _repacked(root, "nodelta", "repack", "-adfq", "--window=0")


def build_rev(root: Path) -> Path:
    """A repack with ``pack.writeReverseIndex=true`` (a ``.rev`` beside the pack)."""
    repo = _repacked(root, "rev", "repack", "-adfq", config=["pack.writeReverseIndex=true"])
    assert pack_files(repo, ".rev")
    return repo


def build_norev(root: Path) -> Path:
    """A repack with ``pack.writeReverseIndex=false`` (pack order must be built)."""
    repo = _repacked(root, "norev", "repack", "-adfq", config=["pack.writeReverseIndex=false"])
    assert not pack_files(repo, ".rev")
    return repo


def _reindex(root: Path, name: str, version: str) -> Path:
    repo = _repacked(root, name, "repack", "-adfq", config=["pack.writeReverseIndex=false"])
    (pack,) = pack_files(repo)
    idx = pack.with_suffix(".idx")
    idx.unlink()
    git(repo, "index-pack", f"--index-version={version}", "-o", str(idx), str(pack))
    return repo


def build_idx_v1(root: Path) -> Path:
    """``git index-pack --index-version=1``."""
    return _reindex(root, "idxv1", "1")


def build_idx_large_offsets(root: Path) -> Path:
    """``--index-version=2,0x40``: every offset past 64 goes through the 64-bit table."""
    return _reindex(root, "idx64", "2,0x40")


def build_multipack(root: Path) -> Path:
    """Three overlapping packs (objects duplicated across packs), an empty pack, loose
    objects, and a multi-pack-index, ``.keep`` and ``.bitmap`` beside them."""
    source = build_fastimport_into(root / "multipack-src.git")
    repo = init_bare(root / "multipack.git")
    pack_dir = repo / "objects" / "pack"
    everything = b"main\nfeature/x\nrefs/tags/v0.1\nrefs/tags/v1.0\nrefs/tags/v1.0-tagged\n"
    for revs in (b"main~60\n", everything + b"^main~70\n", b"feature/x\n^main~65\n"):
        data = git(source, "pack-objects", "--revs", "--stdout", input=revs)
        git(repo, "index-pack", "--stdin", input=data)
    empty = git(source, "pack-objects", "--stdout", input=b"")
    git(repo, "index-pack", "--stdin", input=empty)
    for ref_line in git(source, "for-each-ref", "--format=%(objectname) %(refname)").splitlines():
        oid, name = ref_line.decode().split(" ", 1)
        git(repo, "update-ref", name, oid)
    for n in range(3):
        git(repo, "hash-object", "-w", "--stdin", input=b"loose extra %d\n" % n)
    git(repo, "multi-pack-index", "write")
    first = pack_files(repo)[0]
    first.with_suffix(".keep").write_bytes(b"kept by the fixture\n")
    first.with_suffix(".promisor").write_bytes(b"")
    assert len(pack_files(repo)) == 4 and (pack_dir / "multi-pack-index").exists()
    return repo


def build_fastimport_into(path: Path, *, object_format: str = "sha1") -> Path:
    """The shared history fast-imported into a new bare repository at ``path``."""
    repo = init_bare(path, object_format=object_format)
    fast_import(repo, history_stream(zero_oid_len=64 if object_format == "sha256" else 40))
    return repo


def build_thin_fixed(root: Path) -> Path:
    """A pack received as a thin pack and fixed with ``index-pack --fix-thin``: the missing
    REF_DELTA bases are appended at the *end*, so deltas point forward in the pack."""
    source = build_fastimport_into(root / "thin-src.git")
    git(source, "repack", "-adfq", "--window=50")
    repo = init_bare(root / "thin.git")
    old = git(source, "pack-objects", "--revs", "--stdout", input=b"main~30\n")
    git(repo, "index-pack", "--stdin", input=old)
    thin = git(source, "pack-objects", "--revs", "--thin", "--stdout", input=b"main\n^main~30\n")
    git(repo, "index-pack", "--stdin", "--fix-thin", input=thin)
    git(repo, "update-ref", "refs/heads/main", git(source, "rev-parse", "main").decode().strip())
    return repo


def build_alternates(root: Path) -> Path:
    """``leaf`` borrows from ``mid`` (relative path) which borrows from ``base`` (absolute);
    ``mid`` also lists ``leaf`` (a loop) and the leaf lists a missing directory and a
    comment. New objects sit loose in ``mid`` and ``leaf``."""
    base = build_fastimport_into(root / "alt-base.git")
    git(base, "repack", "-adfq")
    mid = init_bare(root / "alt-mid.git")
    leaf = init_bare(root / "alt-leaf.git")
    (mid / "objects" / "info" / "alternates").write_text(
        f"{base / 'objects'}\n{leaf / 'objects'}\n"
    )
    (leaf / "objects" / "info" / "alternates").write_text(
        "# borrowed objects\n../../alt-mid.git/objects\n/nonexistent/objects\n"
    )
    head = git(base, "rev-parse", "main").decode().strip()
    for repo, name in ((mid, "mid"), (leaf, "leaf")):
        stream = (
            b"blob\nmark :1\n" + _data(b"only in %s\n" % name.encode())
            + b"commit refs/heads/main\nmark :2\n"
            + b"committer C <c@example.com> %d +0000\n" % EPOCH
            + _data(b"%s commit\n" % name.encode())
            + b"from %s\nM 100644 :1 %s.txt\n\n" % (head.encode(), name.encode())
        )
        fast_import(repo, stream, loose=True)
        head = git(repo, "rev-parse", "main").decode().strip()
    return leaf


def build_sha256(root: Path) -> Path:
    """A SHA-256 repository: aggressive gc with a ``.rev``, plus loose objects."""
    repo = build_fastimport_into(root / "sha256.git", object_format="sha256")
    git(repo, "-c", "pack.writeReverseIndex=true", "gc", "--aggressive", "--prune=now", "-q")
    for n in range(3):
        git(repo, "hash-object", "-w", "--stdin", input=b"sha256 loose %d\n" % n)
    assert pack_files(repo, ".rev")
    return repo


def build_cruft(root: Path) -> Path:
    """``git repack -adb --cruft``: a bitmapped pack plus a cruft pack (with ``.mtimes``)
    holding unreachable objects."""
    repo = build_fastimport_into(root / "cruft.git")
    for n in range(3):
        git(repo, "hash-object", "-w", "--stdin", input=b"unreachable %d\n" % n)
    git(repo, "repack", "-adbq", "--cruft")
    assert pack_files(repo, ".bitmap") and pack_files(repo, ".mtimes")
    return repo


BUILDERS: dict[str, Callable[[Path], Path]] = {
    "fastimport": build_fastimport,
    "loose": build_loose,
    "aggressive": build_aggressive,
    "deep": build_deep,
    "nodelta": build_nodelta,
    "rev": build_rev,
    "norev": build_norev,
    "idxv1": build_idx_v1,
    "idx64": build_idx_large_offsets,
    "multipack": build_multipack,
    "thin": build_thin_fixed,
    "alternates": build_alternates,
    "sha256": build_sha256,
    "cruft": build_cruft,
}


# -- the oracle --------------------------------------------------------------------------------


def parse_cat_file_batch(out: bytes) -> Iterator[tuple[str, str, bytes]]:
    """``(hex id, type name, content)`` of each record of ``git cat-file --batch`` output;
    names git reports as ``missing`` are skipped."""
    pos = 0
    while pos < len(out):
        eol = out.index(b"\n", pos)
        fields = out[pos:eol].decode().split(" ")
        if fields[-1] == "missing":
            pos = eol + 1
            continue
        oid_hex, kind, size_text = fields
        start = eol + 1
        end = start + int(size_text)
        yield oid_hex, kind, out[start:end]
        pos = end + 1


def cat_file_all(git_dir: Path) -> dict[bytes, tuple[int, bytes]]:
    """Every object git sees (alternates included): ``{raw oid: (type code, content)}``."""
    out = git(git_dir, "cat-file", "--batch-all-objects", "--batch")
    return {
        bytes.fromhex(oid_hex): (TYPE_CODES[kind], content)
        for oid_hex, kind, content in parse_cat_file_batch(out)
    }


# -- crafting hostile packs (git:t/lib-pack.sh) ------------------------------------------------


def pack_entry(kind: int, payload: bytes, *, size: int | None = None, base: bytes = b"",
               compressed: bytes | None = None) -> bytes:
    """One raw entry: header (``size`` defaults to ``len(payload)``), the base reference
    bytes for deltas (``ofs_encoding(...)`` or a raw id), then the zlib stream."""
    stream = zlib.compress(payload) if compressed is None else compressed
    return entry_header(kind, len(payload) if size is None else size) + base + stream


def craft_pack(entries: list[bytes], *, version: int = 2, count: int | None = None,
               hash_len: int = 20) -> tuple[bytes, list[int]]:
    """A pack of raw ``entries``; returns the bytes and each entry's offset."""
    declared = len(entries) if count is None else count
    body = bytearray(b"PACK" + struct.pack(">II", version, declared))
    offsets = []
    for entry in entries:
        offsets.append(len(body))
        body += entry
    return bytes(body) + digest(bytes(body), hash_len), offsets


def craft_idx_v2(pack: bytes, objects: list[tuple[bytes, int]], *, hash_len: int = 20,
                 large_from: int | None = None) -> bytes:
    """An idx v2 for ``pack`` listing ``(oid, offset)`` pairs (duplicates allowed). Offsets
    at or above ``large_from`` go through the 64-bit table. CRCs are computed from the pack
    using the entries' extents in offset order."""
    by_offset = sorted({off for _, off in objects})
    end = len(pack) - hash_len
    crcs = {}
    for i, off in enumerate(by_offset):
        nxt = by_offset[i + 1] if i + 1 < len(by_offset) else end
        crcs[off] = zlib.crc32(pack[off:nxt])
    rows = [(oid, crcs[off], off) for oid, off in objects]
    large = 0x80000000 if large_from is None else large_from
    return idx_v2(rows, pack[-hash_len:], hash_len, large_from=large)


def object_id(kind: int, content: bytes, hash_len: int = 20) -> bytes:
    """The id git gives an object of type code ``kind``."""
    return packwriter.object_id(TYPE_NAMES[kind], content, hash_len)
