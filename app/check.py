"""``packserve check [REPO]``: verify a repository and say what is damaged.

Exit status: 0 when everything verifies, 1 when something is corrupt (each finding is one
line on stdout), 2 when the path is not a usable repository.

Rules:
1. The verification itself is ``app.git.verify``; this module only prints.
2. A progress bar goes to stderr, redrawn in place with a carriage return, only when stderr
   is a terminal (or ``progress=True``) and only once a run has lasted ``BAR_DELAY``
   seconds, so short runs and logs stay clean. No dependency beyond the standard library.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

from app.git.errors import GitError
from app.git.verify import Report, verify_repository

BAR_DELAY = 0.5
BAR_WIDTH = 30
_REDRAW_SECONDS = 0.1


class ProgressBar:
    """A carriage-return progress bar: ``checking objects [#####     ] 1234/5678  21%``."""

    def __init__(self, stream: TextIO, *, delay: float = BAR_DELAY) -> None:
        self.stream = stream
        self.start = time.monotonic()
        self.delay = delay
        self.drawn = False
        self._next_draw = self.start + delay

    def __call__(self, done: int, total: int) -> None:
        """Show ``done`` of ``total``: nothing until ``delay`` has passed, then at most every
        0.1 s, and at completion."""
        now = time.monotonic()
        if now < self._next_draw and done < total:
            return
        if not self.drawn and now - self.start < self.delay:
            return
        self._next_draw = now + _REDRAW_SECONDS
        filled = BAR_WIDTH * done // total if total else BAR_WIDTH
        percent = 100 * done // total if total else 100
        bar = "#" * filled + " " * (BAR_WIDTH - filled)
        self.stream.write(f"\rchecking objects [{bar}] {done}/{total} {percent:3d}%")
        self.stream.flush()
        self.drawn = True

    def finish(self) -> None:
        """End the bar's line (only if one was drawn)."""
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def describe(report: Report) -> str:
    """The one-line summary printed after the findings."""
    counts = (
        f"{report.packs} pack(s), {report.packed_objects} packed and "
        f"{report.loose_objects} loose object(s), {report.refs} ref(s)"
    )
    if report.ok:
        return f"ok: {counts} verified ({report.object_format})"
    return f"CORRUPT: {len(report.findings)} problem(s) in {counts} ({report.object_format})"


def run_check(
    repo: str | os.PathLike[str] | None = None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    progress: bool | None = None,
) -> int:
    """Verify ``repo`` (default: the current directory); return the exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    path = os.fspath(repo) if repo is not None else "."
    show_bar = err.isatty() if progress is None else progress
    bar = ProgressBar(err) if show_bar else None
    try:
        report = verify_repository(path, progress=bar)
    except (GitError, OSError) as exc:
        if bar is not None:
            bar.finish()
        err.write(f"packserve check: {path}: not a usable repository: {exc}\n")
        return 2
    if bar is not None:
        bar.finish()
    for finding in report.findings:
        out.write(f"{finding}\n")
    out.write(describe(report) + "\n")
    return 0 if report.ok else 1
