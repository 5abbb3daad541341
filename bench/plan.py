"""The parameters of one benchmark run: the full run and the CI smoke run.

A ``Plan`` is plain data; ``run`` reads it and nothing else decides sizes, counts or
durations, so the smoke run exercises exactly the code paths of the full run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

KB = 1024
MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class RepoShape:
    """How the realistic repository is generated (the cache key is derived from this)."""

    commits: int
    small_files: int  # many small source files, a few edited per commit
    small_size: int  # the ~4 KB file of the "small" workload
    medium_size: int  # the ~300 KB JS-like file (its tip is forced to be a delta)
    large_size: int  # the ~2 MB file
    huge_size: int  # the ~50 MB file
    large_every: int  # the large file is edited every N commits
    huge_revisions: int  # the huge file gets this many revisions
    seed: int = 20261121


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything a run does, sized."""

    shape: RepoShape
    rounds: int
    duration: int  # seconds per wrk run (wrk takes whole seconds)
    huge_duration: int  # seconds per wrk run on the huge file
    warmup: int  # seconds of untimed wrk load per (contender, workload) before round 1
    connections: int
    large_connections: int
    huge_connections: int
    cold_repeats: int  # fresh starts per contender for the first-request measurement
    startup_objects: tuple[int, int]  # synthetic repositories: (few, many) objects
    startup_repeats: int
    memory_clients: int  # concurrent downloads of the huge file
    calm: bool  # hold runs back while foreign load is high, retry disturbed ones


FULL = Plan(
    shape=RepoShape(
        commits=300,
        small_files=200,
        small_size=4 * KB,
        medium_size=300 * KB,
        large_size=2 * MB,
        huge_size=50 * MB,
        large_every=10,
        huge_revisions=5,
    ),
    rounds=3,
    duration=2,
    huge_duration=2,
    warmup=1,
    connections=32,
    large_connections=16,
    huge_connections=4,
    cold_repeats=3,
    startup_objects=(1_000, 1_000_000),
    startup_repeats=5,
    memory_clients=100,
    calm=True,
)

SMOKE = Plan(
    shape=RepoShape(
        commits=24,
        small_files=20,
        small_size=4 * KB,
        medium_size=32 * KB,
        large_size=256 * KB,
        huge_size=1 * MB,
        large_every=4,
        huge_revisions=3,
    ),
    rounds=1,
    duration=1,
    huge_duration=1,
    warmup=0,
    connections=8,
    large_connections=4,
    huge_connections=2,
    cold_repeats=1,
    startup_objects=(1_000, 5_000),
    startup_repeats=1,
    memory_clients=10,
    calm=False,
)


def with_overrides(
    plan: Plan, *, rounds: int | None = None, duration: int | None = None
) -> Plan:
    """``plan`` with the command-line overrides applied."""
    if rounds is not None:
        plan = replace(plan, rounds=rounds)
    if duration is not None:
        plan = replace(plan, duration=duration, huge_duration=min(plan.huge_duration, duration))
    return plan
