"""Cold measurements: start-up time and the first requests of a fresh process.

- ``first_requests``: for one contender, start it afresh (a new empty cache directory), time
  process start -> first 200 for the small file, then the first and the second gzip request
  for the delta-stored file (the first pays for resolving the delta chain and compressing).
- ``startup_scaling``: packserve's process start -> first answer (any status, on ``/-/``:
  the process listens) and -> first 200 for a file, on synthetic repositories of few and
  many objects, alternated, so start-up cost that grows with the repository shows, and
  whether it is paid before listening or by the first request.
"""

from __future__ import annotations

import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.contenders import Fleet
from bench.corpus import Bodies
from bench.synthetic import PROBE_PATH
from bench.verify import fetch

START_TIMEOUT = 120.0


@dataclass(frozen=True, slots=True)
class Startup:
    """One fresh start on a synthetic repository (seconds since process start)."""

    listening_s: float
    first_200_s: float


@dataclass(frozen=True, slots=True)
class Cold:
    """Medians over the fresh starts of one contender."""

    startup_s: float
    first_delta_s: float
    second_delta_s: float
    first_delta_ok: bool


def _fresh_env(run_dir: Path) -> dict[str, str]:
    # packserve keeps its on-disk cache under $XDG_CACHE_HOME: a fresh one per start.
    return {"XDG_CACHE_HOME": tempfile.mkdtemp(prefix="xdg-", dir=run_dir)}


def first_requests(fleet: Fleet, name: str, small: Bodies, delta: Bodies,
                   repeats: int) -> Cold:
    """Start ``name`` ``repeats`` times; medians of start-up and first delta requests."""
    startups: list[float] = []
    firsts: list[float] = []
    seconds: list[float] = []
    ok = True
    for i in range(repeats):
        server = fleet.spawn(name, env=_fresh_env(fleet.setting.run_dir), tag=f"-cold{i}")
        try:
            startups.append(server.wait_ready(small.url, START_TIMEOUT))
            for times in (firsts, seconds):
                status, _, body, elapsed = fetch(server.port, delta.url,
                                                 {"Accept-Encoding": "gzip"})
                ok = ok and status == 200 and bool(body)
                times.append(elapsed)
        finally:
            server.stop()
    return Cold(statistics.median(startups), statistics.median(firsts),
                statistics.median(seconds), ok)


def startup_scaling(fleet: Fleet, repos: dict[str, Path],
                    repeats: int) -> dict[str, list[Startup]]:
    """Label -> packserve's fresh starts on that synthetic repository."""
    times: dict[str, list[Startup]] = {label: [] for label in repos}
    for i in range(repeats):
        for n, (label, git_dir) in enumerate(repos.items()):
            server = fleet.spawn("packserve", env=_fresh_env(fleet.setting.run_dir),
                                 tag=f"-startup{n}-{i}", git_dir=git_dir)
            try:
                listening = server.wait_ready("/-/", START_TIMEOUT, any_status=True)
                first = server.wait_ready(f"/main/{PROBE_PATH}", START_TIMEOUT)
                times[label].append(Startup(listening, first))
            finally:
                server.stop()
    return times
