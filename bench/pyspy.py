"""Sampling profiles of packserve under load, with py-spy (optional: ``--profile``).

py-spy records the server process without stopping it (``--nonblocking``) while wrk drives
one workload; the collapsed stacks (``--format raw``, one ``frame;frame;... count`` line per
stack; flamegraph.pl, inferno and speedscope read it) are kept under the results directory
and summarised here, as shares of the samples: the functions most often on top of the stack
(self), the same grouped by area (packserve's packages, each library, each stdlib module),
and packserve's own functions on the stack at all (inclusive: what each costs with its
callees). Idle samples (the event loop waiting in ``select``) are not recorded, so the
shares are shares of busy time. Non-blocking sampling sometimes cuts a stack short, which is
why nothing is measured from the root.
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
    areas: list[tuple[str, float]]  # (area of the top frame, share of samples)
    top_app: list[tuple[str, float]]  # packserve's functions, inclusive
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


def _area(frame: str) -> str:
    """"f (app/http/body.py)" -> "app/http"; "f (h11/_util.py)" -> "h11"; stdlib: module."""
    where = frame.rpartition(" (")[2].rstrip(")")
    if where.startswith("app/"):
        return "/".join(where.split("/")[:2]).removesuffix(".py")
    if where.startswith(".11/"):  # "/lib/python3.11/x.py" cut at "/lib/python3"
        where = where[4:]
    return where.split("/")[0].removesuffix(".py")


def summarize(workload: str, collapsed: Path, top: int = 12) -> Profile:
    """Top functions (self), areas (self) and packserve functions (inclusive)."""
    own: Counter[str] = Counter()
    areas: Counter[str] = Counter()
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
        areas[_area(frames[-1])] += count
        for frame in set(frames):
            if "(app/" in frame and "(app/__main__" not in frame and "(app/cli" not in frame:
                inclusive[frame] += count
    if not total:
        return Profile(workload, 0, [], [], [], str(collapsed))

    def shares(counter: Counter[str], n: int) -> list[tuple[str, float]]:
        return [(f, c / total) for f, c in counter.most_common(n)]

    return Profile(workload, total, shares(own, top), shares(areas, 10),
                   shares(inclusive, top), str(collapsed))
