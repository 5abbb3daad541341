"""Sampling profiles of packserve under load, with py-spy (optional: ``--profile``).

py-spy records the server process without stopping it (``--nonblocking``) while wrk drives
one workload; the collapsed stacks (``--format raw``, one ``frame;frame;... count`` line per
stack; flamegraph.pl, inferno and speedscope read it) are kept under the results directory
and summarised here: the functions most often on top of the stack (self) and on the stack
at all (inclusive, leaving out the frames on nearly every stack: the event loop and the
server's entry points), as shares of the samples. Idle samples (the event loop waiting in
``select``) are not recorded, so the shares are shares of busy time.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

RATE = 250  # samples per second


@dataclass(frozen=True, slots=True)
class Profile:
    """The summary of one recording."""

    workload: str
    samples: int
    top_self: list[tuple[str, float]]  # (function, share of samples)
    top_inclusive: list[tuple[str, float]]
    collapsed: str  # path of the raw recording


def binary() -> str | None:
    """The py-spy binary, if installed (``pip install py-spy``)."""
    return shutil.which("py-spy")


def start(pyspy: str, pid: int, seconds: int, out: Path) -> subprocess.Popen[bytes]:
    """Start recording ``pid`` for ``seconds`` into ``out`` (collapsed stacks)."""
    return subprocess.Popen(
        [pyspy, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", str(RATE),
         "--format", "raw", "--nolineno", "--nonblocking", "--output", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def _short(frame: str) -> str:
    # "handle (/work/main/app/http/app.py)" -> "handle (app/http/app.py)"
    name, _, where = frame.partition(" (")
    for marker in ("/site-packages/", "/lib/python3", "/work/main/"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    return f"{name} ({where}" if where else name


def summarize(workload: str, collapsed: Path, top: int = 12) -> Profile:
    """Top self and inclusive functions of a recording."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";")]
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count

    if not total:
        return Profile(workload, 0, [], [], str(collapsed))
    top_self = [(f, n / total) for f, n in own.most_common(top)]
    telling = [(f, n / total) for f, n in inclusive.most_common() if n / total < 0.97]
    return Profile(workload, total, top_self, telling[:top], str(collapsed))
