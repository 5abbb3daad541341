"""A content-addressed, size-bounded cache of files on disk.

Rules:
- Keys name content that never changes (a blob id plus a suffix saying what was derived
  from it), so an entry is never stale: it is either present and whole, or absent.
- Writes go to a temporary file in the same directory, are fsync'd, then renamed over the
  final name (``os.replace`` is atomic on POSIX), so a reader — in this process or another
  worker process — sees the whole file or nothing, even after a crash.
- Several processes may share one directory. Two writers of the same key write the same
  bytes; the last rename wins harmlessly. Eviction may unlink a file another process has
  mapped: Linux keeps an unlinked mapping valid, so that reader finishes undisturbed.
- The size bound is enforced by the process that writes: after a write pushes its running
  total over ``max_bytes`` it rescans the directory (the true total across all processes)
  and deletes the least recently used files (oldest mtime; hits refresh the mtime) until
  the total is under 90 % of the bound.
- Synchronous and standard-library only: the HTTP shell calls it from worker threads.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path

# Bump when the layout or an entry format changes: old entries are then simply ignored.
_VERSION_DIR = "v1"
_KEY = re.compile(r"[0-9a-f]{4,64}(\.[a-z0-9]{1,16})?\Z")
# A hit refreshes the mtime (the LRU clock) at most this often, to spare a syscall per hit.
_TOUCH_INTERVAL = 3600.0
_LOW_WATER = 0.9


class DiskCache:
    """Files keyed by ``<hex id>[.<suffix>]`` under ``root``, at most ``max_bytes`` in total."""

    def __init__(self, root: str | os.PathLike[str], max_bytes: int) -> None:
        self.root = Path(root) / _VERSION_DIR
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._total: int | None = None  # bytes on disk as last counted, plus our writes since

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"invalid cache key {key!r}")
        # Two hex digits of fan-out keep directories small, as git's own loose objects do.
        return self.root / key[:2] / key[2:]

    def map(self, key: str) -> memoryview | None:
        """Return the entry's bytes as a read-only mapping, or None if it is absent.

        The mapping stays valid after the file is evicted or replaced, so callers may keep
        it as long as they hold the memoryview.
        """
        path = self._path(key)
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            # Absent, or unreadable (a cache directory we may not use): a miss either way;
            # the caller re-derives the entry, which is always possible.
            return None
        try:
            st = os.fstat(fd)
            if time.time() - st.st_mtime > _TOUCH_INTERVAL:
                with contextlib.suppress(OSError):
                    os.utime(fd)
            if st.st_size == 0:
                return memoryview(b"")
            return memoryview(mmap.mmap(fd, st.st_size, access=mmap.ACCESS_READ))
        finally:
            os.close(fd)

    def read(self, key: str, max_size: int) -> bytes | None:
        """Return a small entry's bytes, or None if absent or larger than ``max_size``."""
        view = self.map(key)
        if view is None or len(view) > max_size:
            return None
        return bytes(view)

    def remove(self, key: str) -> None:
        """Delete an entry found damaged (mappings of it stay valid, as with eviction)."""
        with contextlib.suppress(OSError):
            os.unlink(self._path(key))

    def put(self, key: str, chunks: Iterable[bytes | memoryview]) -> int:
        """Write an entry atomically from ``chunks``; return its size in bytes."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        size = 0
        try:
            with os.fdopen(fd, "wb") as fh:
                for chunk in chunks:
                    fh.write(chunk)
                    size += len(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self._account(size)
        return size

    def _account(self, size: int) -> None:
        with self._lock:
            if self._total is None:
                self._total = self._scan_total()
            self._total += size
            if self._total > self.max_bytes:
                self._total = self._evict()

    def _entries(self) -> list[tuple[float, int, str]]:
        found = []
        try:
            fan = list(os.scandir(self.root))
        except FileNotFoundError:
            return []
        for sub in fan:
            if not sub.is_dir(follow_symlinks=False):
                continue
            with contextlib.suppress(FileNotFoundError):
                for entry in os.scandir(sub.path):
                    with contextlib.suppress(FileNotFoundError):
                        st = entry.stat(follow_symlinks=False)
                        found.append((st.st_mtime, st.st_size, entry.path))
        return found

    def _scan_total(self) -> int:
        return sum(size for _, size, _ in self._entries())

    def _evict(self) -> int:
        entries = sorted(self._entries())
        total = sum(size for _, size, _ in entries)
        target = int(self.max_bytes * _LOW_WATER)
        now = time.time()
        for mtime, size, path in entries:
            if total <= target:
                break
            # A temporary file younger than a minute is another writer's work in progress.
            if os.path.basename(path).startswith(".tmp-") and now - mtime < 60:
                continue
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            total -= size
        return total
