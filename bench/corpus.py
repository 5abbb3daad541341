"""The expected bytes: every benchmarked file in every coding, straight from git.

``identity`` is ``git cat-file blob``. ``deflate`` is, for a blob stored whole, the pack's
own zlib stream of that entry (the bytes packserve sends), and for a delta-stored blob a
fresh ``zlib.compress`` at git's default level. ``gzip`` is built from the deflate stream
without recompressing (RFC 1952 header + the raw deflate + CRC-32 and size of the content),
as packserve builds it. The in-memory ceilings serve exactly these bytes, and the
verification decodes what every contender sends and compares it with ``identity``.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from bench.gitenv import git
from bench.repo import BenchRepo

CODINGS = ("deflate", "gzip", "identity")
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # no name, no mtime, OS unknown


@dataclass(frozen=True, slots=True)
class Bodies:
    """One file in every coding."""

    url: str
    oid: str
    identity: bytes
    deflate: bytes
    gzip: bytes
    stored: bool  # ``deflate`` is the pack's own stream

    def coded(self, coding: str) -> bytes:
        """The body for ``coding`` (one of ``CODINGS``)."""
        return {"deflate": self.deflate, "gzip": self.gzip, "identity": self.identity}[coding]


def url_for(repo: BenchRepo, path: str) -> str:
    """The URL path every contender serves ``path`` of the benchmarked ref under."""
    return f"/{repo.ref}/{quote(path)}"


def gzip_from_zlib(stream: bytes, content: bytes) -> bytes:
    """A gzip member wrapping the raw deflate inside a zlib stream (RFC 1950/1952)."""
    raw = stream[2:-4]
    return _GZIP_HEADER + raw + struct.pack("<II", zlib.crc32(content), len(content) & 0xFFFFFFFF)


def _pack_offsets(git_dir: Path) -> dict[str, tuple[Path, int, int]]:
    """oid -> (pack, entry offset, next entry offset) for every packed object."""
    found: dict[str, tuple[Path, int, int]] = {}
    for idx in sorted((git_dir / "objects" / "pack").glob("*.idx")):
        pack = idx.with_suffix(".pack")
        listing = git(git_dir, "show-index", input=idx.read_bytes()).decode().split("\n")
        entries = sorted(
            (int(offset), oid) for offset, oid, *_ in (line.split() for line in listing if line)
        )
        # The last entry ends where the trailing checksum starts.
        end = pack.stat().st_size - 20
        for (offset, oid), nxt in zip(
            entries, [o for o, _ in entries[1:]] + [end], strict=True
        ):
            found.setdefault(oid, (pack, offset, nxt))
    return found


def _stored_stream(pack: Path, start: int, end: int) -> bytes | None:
    """The zlib stream of a non-delta blob entry, or None for any other entry."""
    with pack.open("rb") as fh:
        fh.seek(start)
        entry = fh.read(end - start)
    byte = entry[0]
    kind = (byte >> 4) & 7
    pos = 1
    while byte & 0x80:
        byte = entry[pos]
        pos += 1
    return entry[pos:] if kind == 3 else None


def build(repo: BenchRepo) -> dict[str, Bodies]:
    """Role -> the file's bodies, for every role of ``repo``."""
    offsets = _pack_offsets(repo.git_dir)
    corpus: dict[str, Bodies] = {}
    for role, tip in repo.roles.items():
        content = git(repo.git_dir, "cat-file", "blob", tip.oid)
        stream = None
        if tip.oid in offsets:
            stream = _stored_stream(*offsets[tip.oid])
        if stream is not None and zlib.decompress(stream) != content:
            raise RuntimeError(f"{tip.path}: the pack stream does not inflate to the blob")
        deflate = stream if stream is not None else zlib.compress(content, 6)
        corpus[role] = Bodies(
            url=url_for(repo, tip.path),
            oid=tip.oid,
            identity=content,
            deflate=deflate,
            gzip=gzip_from_zlib(deflate, content),
            stored=stream is not None,
        )
    return corpus


def write_manifest(corpus: dict[str, Bodies], dest: Path) -> Path:
    """Write the bodies to ``dest`` and a manifest the in-memory ceilings load at start."""
    dest.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, dict[str, str]] = {}
    for bodies in corpus.values():
        if bodies.url in manifest:
            continue
        files = {"oid": bodies.oid}
        for coding in CODINGS:
            name = dest / f"{bodies.oid}.{coding}"
            name.write_bytes(bodies.coded(coding))
            files[coding] = str(name)
        manifest[bodies.url] = files
    path = dest / "manifest.json"
    path.write_text(json.dumps(manifest, indent=1))
    return path
