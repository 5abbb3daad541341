"""Loose refs: one file per ref under ``refs/`` (and ``HEAD``), read and scanned.

Rules (git:refs/files-backend.c ``parse_loose_ref_contents``, ``read_ref_internal``):

1. Content is ``<hex>`` followed by whitespace or end of file, or ``ref:`` + optional whitespace
   + a target name (trailing whitespace stripped). Anything else raises ``CorruptRefs``.
2. A legacy *symlink* whose target starts with ``refs/`` is a symref to that target.
3. A missing file or a directory at the ref path reads as "no loose ref" (``None``): the caller
   then falls back to ``packed-refs``.
4. Files are capped at ``MAX_LOOSE_REF`` bytes before reading.
5. ``scan`` walks a namespace directory and returns, beside the refs, the ``(mtime_ns, inode)``
   of every directory it read: git writes refs with lock-file + ``rename(2)``, which changes
   the containing directory's mtime, so those stamps tell when a rescan is due.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from app.git.errors import CorruptRefs
from app.git.oid import ObjectId
from app.git.refs.names import check_ref_format

MAX_LOOSE_REF = 4096
_HEX = re.compile(rb"[0-9a-fA-F]+")

# A loose ref's value: an object id, or the name of the ref it points at.
LooseValue = ObjectId | str
DirStamp = tuple[str, int, int]


def parse_loose(buf: bytes, hash_len: int, *, name: str = "ref") -> LooseValue:
    """Parse the content of a loose ref file."""
    if buf.startswith(b"ref:"):
        target = buf[4:].strip()
        try:
            text = target.decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptRefs(f"{name}: symref target is not UTF-8") from None
        if not check_ref_format(text, allow_onelevel=True):
            raise CorruptRefs(f"{name}: invalid symref target {text!r}")
        return text
    hex_len = 2 * hash_len
    m = _HEX.match(buf)
    if m is None or m.end() != hex_len or (len(buf) > hex_len and not buf[hex_len:][:1].isspace()):
        raise CorruptRefs(f"{name}: not an object id or 'ref:' line")
    return ObjectId(bytes.fromhex(buf[:hex_len].decode("ascii")))


def read_loose(path: str | os.PathLike[str], hash_len: int) -> LooseValue | None:
    """Read one loose ref; ``None`` when it is absent or a directory sits at its path."""
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise CorruptRefs(f"{path}: {exc.strerror}") from exc
    if stat.S_ISLNK(st.st_mode):
        target = os.fsdecode(os.readlink(path))
        if target.startswith("refs/") and check_ref_format(target):
            return target
    elif not stat.S_ISREG(st.st_mode):
        return None
    try:
        with open(path, "rb") as f:
            buf = f.read(MAX_LOOSE_REF + 1)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    except OSError as exc:
        raise CorruptRefs(f"{path}: {exc.strerror}") from exc
    if len(buf) > MAX_LOOSE_REF:
        raise CorruptRefs(f"{path}: larger than {MAX_LOOSE_REF} bytes")
    return parse_loose(buf, hash_len, name=str(path))


def scan(base: Path, prefix: str, hash_len: int
         ) -> tuple[dict[str, LooseValue | CorruptRefs], list[DirStamp]]:
    """Read every loose ref under ``base/prefix`` (``prefix`` like ``"refs/heads/"``).

    Files whose names are not valid refs (``*.lock``, editor droppings) are skipped, as git's
    iterator skips them. A ref that vanishes mid-scan (a concurrent ``pack-refs``) is skipped;
    the changed directory stamp makes the next freshness check rescan. A file that does not
    parse is kept as its ``CorruptRefs`` error: naming that ref fails, listing skips it (git
    warns "ignoring broken ref" and goes on).
    """
    refs: dict[str, LooseValue | CorruptRefs] = {}
    stamps: list[DirStamp] = []
    pending = [prefix.rstrip("/")]
    while pending:
        rel = pending.pop()
        directory = base / rel
        try:
            st = os.stat(directory)
            entries = list(os.scandir(directory))
        except (FileNotFoundError, NotADirectoryError):
            stamps.append((rel, 0, 0))
            continue
        except OSError as exc:
            raise CorruptRefs(f"{directory}: {exc.strerror}") from exc
        stamps.append((rel, st.st_mtime_ns, st.st_ino))
        for entry in entries:
            name = f"{rel}/{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                pending.append(name)
                continue
            if not check_ref_format(name):
                continue
            try:
                value: LooseValue | CorruptRefs | None = read_loose(entry.path, hash_len)
            except CorruptRefs as exc:
                value = exc
            if value is not None:
                refs[name] = value
    return refs, stamps


def stamp_dirs(base: Path, stamps: list[DirStamp]) -> bool:
    """Return whether every directory still has the stamp ``scan`` recorded."""
    for rel, mtime_ns, ino in stamps:
        try:
            st = os.stat(base / rel)
        except OSError:
            if mtime_ns or ino:
                return False
            continue
        if st.st_mtime_ns != mtime_ns or st.st_ino != ino:
            return False
    return True
