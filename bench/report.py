"""Results: medians per (contender, workload), the ratios against the issue's targets, and
their rendering as a terminal table, Markdown and JSON (under ``bench/results/``).

Targets are never adjusted here: a missed one is printed as MISSED with its measured value.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.coldstart import Cold, Startup
from bench.memory import MemoryRun
from bench.pyspy import Profile
from bench.verify import Verdict
from bench.workloads import THROUGHPUT_ROLES, Workload
from bench.wrk import WrkResult

PACKSERVE = "packserve"
MEMORY_LIMIT_MB = 64.0


DISTURBED = 0.10  # foreign load above this share of the machine flags a cell


@dataclass(frozen=True, slots=True)
class Run:
    """One timed wrk run and the foreign load during it (``noise.ForeignLoad``)."""

    wrk: WrkResult
    foreign_cpu: float


@dataclass
class Cell:
    """One (contender, workload): its verification and its timed runs, one per round."""

    verdict: Verdict | None = None
    runs: list[Run | None] = field(default_factory=list)  # index = round; None: failed
    error: str = ""

    def _done(self) -> list[Run]:
        return [r for r in self.runs if r is not None]

    @property
    def rps(self) -> float | None:
        """Median requests per second, when timed."""
        if self.verdict is None or self.verdict.state != "ok" or not self._done():
            return None
        return statistics.median(r.wrk.rps for r in self._done())

    @property
    def mbps(self) -> float | None:
        """Median body megabytes (10^6) per second on the wire, when timed."""
        rps = self.rps
        if rps is None or self.verdict is None:
            return None
        return rps * self.verdict.body_bytes / 1e6

    @property
    def troubled(self) -> bool:
        """wrk saw socket errors, timeouts or statuses outside 2xx/3xx."""
        return any(r.wrk.errors or r.wrk.bad_status for r in self._done())

    @property
    def disturbed(self) -> bool:
        """The median run shared the machine with noticeable foreign load."""
        done = self._done()
        return bool(done) and statistics.median(r.foreign_cpu for r in done) > DISTURBED


@dataclass
class Results:
    """Everything one run measured."""

    meta: dict[str, Any]
    contenders: list[str]
    workloads: list[Workload]
    cells: dict[tuple[str, str], Cell]
    cold: dict[str, Cold | str] = field(default_factory=dict)  # str: what went wrong
    startup: dict[str, list[Startup]] = field(default_factory=dict)  # label -> starts
    memory: list[MemoryRun] = field(default_factory=list)
    profiles: list[Profile] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # phases that could not run

    def rps(self, contender: str, workload: str) -> float | None:
        """Median req/s of one cell, or None."""
        cell = self.cells.get((contender, workload))
        return cell.rps if cell else None

    def paired(self, a: tuple[str, str], b: tuple[str, str]) -> float | None:
        """Median over rounds of rps(a) / rps(b) within the same round (drift cancels), or
        None unless both cells were timed in some round."""
        cell_a, cell_b = self.cells.get(a), self.cells.get(b)
        if cell_a is None or cell_b is None or cell_a.rps is None or cell_b.rps is None:
            return None
        ratios = [ra.wrk.rps / rb.wrk.rps for ra, rb in zip(cell_a.runs, cell_b.runs,
                                                             strict=False)
                  if ra is not None and rb is not None and rb.wrk.rps]
        return statistics.median(ratios) if ratios else None


@dataclass(frozen=True, slots=True)
class Ratio:
    """One row of the targets table."""

    target: str
    detail: str
    value: float | None
    bound: float
    unit: str  # "x", "s" or "MB"
    at_least: bool  # the value must be >= bound (else <= bound)

    @property
    def verdict(self) -> str:
        """met / MISSED / no data."""
        if self.value is None:
            return "no data"
        met = self.value >= self.bound if self.at_least else self.value <= self.bound
        return "met" if met else "MISSED"

    def text(self) -> str:
        """The value with its unit."""
        if self.value is None:
            return "-"
        return f"{self.value:.2f}{'x' if self.unit == 'x' else ' ' + self.unit}"


def ratios(res: Results) -> list[Ratio]:
    """Every target of the issue, computed from this run."""
    out: list[Ratio] = []

    def vs(target: str, workload: str, other: str, bound: float,
           other_workload: str | None = None) -> None:
        theirs = other_workload or workload
        value = res.paired((PACKSERVE, workload), (other, theirs))
        detail = f"{workload} / {other} {theirs}"
        out.append(Ratio(target, detail, value, bound, "x", True))

    for coding in ("deflate", "gzip", "identity"):
        vs("small, warm >= 1.0x Starlette ceiling", f"small/{coding}", "starlette", 1.0)
    vs("small >= 10x StaticFiles", "small/identity", "staticfiles", 10.0)
    vs("small >= 10x StaticFiles", "small/gzip", "static+gzip", 10.0)
    vs("small >= 2.5x pygit2", "small/identity", "pygit2", 2.5)
    for role in ("large", "huge"):
        vs("large deflate >= 0.9x bare ASGI", f"{role}/deflate", "bare-asgi", 0.9)
    for role in ("small", "medium", "large", "huge"):
        vs("gzip >= 0.9x deflate", f"{role}/gzip", PACKSERVE, 0.9, f"{role}/deflate")
    vs("delta-stored >= 0.9x stored whole", "delta/deflate", PACKSERVE, 0.9, "whole/deflate")
    vs("304 revalidation >= 1.0x Starlette", "revalidate", "starlette", 1.0)
    for role in ("small", "medium", "large", "huge"):
        vs("beat nginx+gzip when compressed", f"{role}/gzip", "nginx+gzip", 1.0)
        vs("beat nginx+gzip when compressed", f"{role}/deflate", "nginx+gzip", 1.0,
           f"{role}/gzip")
    few, many = res.meta.get("startup_pair", ("", ""))
    if few in res.startup and many in res.startup:
        few_s = statistics.median(s.first_200_s for s in res.startup[few])
        many_s = statistics.median(s.first_200_s for s in res.startup[many])
        out.append(Ratio("start-up independent of size", f"{many} / {few} objects",
                         many_s / few_s if few_s else None, 1.2, "x", False))
        out.append(Ratio("start-up well under a second", f"{many} objects", many_s, 1.0,
                         "s", False))
    for run in res.memory:
        out.append(Ratio(f"memory: {run.clients} concurrent huge downloads add < 64 MB",
                         run.coding, run.added_mb, MEMORY_LIMIT_MB, "MB", False))
    return out


# --- rendering ---------------------------------------------------------------------------


def _cell_text(cell: Cell | None, workload: Workload) -> str:
    if cell is None or cell.verdict is None:
        return "-"
    if cell.verdict.state != "ok":
        return "n/a" if cell.verdict.state == "n/a" else "WRONG"
    rps = cell.rps
    if rps is None:
        return "err" if cell.error else "ok"
    text = f"{rps:,.0f}" if rps >= 10 else f"{rps:.1f}"
    if workload.kind == "get" and cell.verdict.sent != workload.coding:
        text += " (id)"
    return text + ("!" if cell.troubled else "") + ("~" if cell.disturbed else "")


def table_rows(res: Results) -> list[list[str]]:
    """Header row + one row per workload (+ an MB/s row under the large ones)."""
    rows = [["workload (req/s)", *res.contenders]]
    for w in res.workloads:
        cells = [res.cells.get((c, w.name)) for c in res.contenders]
        rows.append([w.name, *(_cell_text(cell, w) for cell in cells)])
        if w.role in THROUGHPUT_ROLES and w.kind == "get":
            mbps = [cell.mbps if cell else None for cell in cells]
            rows.append(["  MB/s", *(f"{m:,.0f}" if m is not None else "" for m in mbps)])
    return rows


def _aligned(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        first = row[0].ljust(widths[0])
        rest = [v.rjust(w) for v, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join([first, *rest]))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _markdown_table(rows: list[list[str]], right: bool = True) -> str:
    align = "---:" if right else "---"
    out = ["| " + " | ".join(rows[0]) + " |",
           "|" + "|".join(["---", *[align] * (len(rows[0]) - 1)]) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(out)


def _ratio_rows(res: Results) -> list[list[str]]:
    rows = [["target", "measured as", "value", "bound", "verdict"]]
    for r in ratios(res):
        bound = f"{'>=' if r.at_least else '<='} {r.bound:g}{'x' if r.unit == 'x' else r.unit}"
        rows.append([r.target, r.detail, r.text(), bound, r.verdict])
    return rows


def _cold_rows(res: Results) -> list[list[str]]:
    rows = [["contender", "start -> first 200", "first delta gzip", "second delta gzip"]]
    for name, cold in res.cold.items():
        if isinstance(cold, str):
            rows.append([name, cold, "", ""])
        else:
            flag = "" if cold.first_delta_ok else " (not 200)"
            rows.append([name, f"{cold.startup_s * 1000:,.0f} ms",
                         f"{cold.first_delta_s * 1000:,.1f} ms{flag}",
                         f"{cold.second_delta_s * 1000:,.1f} ms"])
    return rows


def _startup_rows(res: Results) -> list[list[str]]:
    rows = [["objects", "start -> listening", "start -> first 200", "starts"]]
    for label, starts in res.startup.items():
        listening = statistics.median(s.listening_s for s in starts)
        first = statistics.median(s.first_200_s for s in starts)
        rows.append([label, f"{listening * 1000:,.0f} ms", f"{first * 1000:,.0f} ms",
                     str(len(starts))])
    return rows


def _memory_rows(res: Results) -> list[list[str]]:
    rows = [["coding", "clients", "baseline", "peak", "added", "complete", "seconds"]]
    for m in res.memory:
        rows.append([m.coding, str(m.clients), f"{m.baseline_mb:.1f} MB", f"{m.peak_mb:.1f} MB",
                     f"{m.added_mb:.1f} MB", f"{m.complete}/{m.clients}", f"{m.seconds:.1f}"])
    return rows


def _repo_lines(res: Results) -> list[str]:
    repo = res.meta["repo"]
    lines = [f"repository: {repo['git_dir']} at {repo['ref']} ({repo['commit'][:12]}); "
             f"{repo['tip_deltas']}/{repo['tip_blobs']} tip blobs stored as deltas "
             f"({repo['delta_fraction']:.0%})"]
    for role, f in repo["roles"].items():
        stored = "delta" if f["delta"] else "whole"
        lines.append(f"  {role:6} {f['path']}  {f['size']:,} bytes, stored {stored}")
    return lines


def _notes() -> list[str]:
    return [
        "Medians over the rounds. 'ok': verified, not timed in this run. '(id)': answered a "
        "gzip request with identity (timed as such). 'n/a': cannot produce the coding. "
        "'WRONG': failed verification, not timed. "
        "'!': wrk saw socket errors or statuses outside 2xx/3xx. '~': other processes used "
        f"more than {DISTURBED:.0%} of the machine during the median run. MB/s: body bytes "
        "on the wire. Ratios: median over rounds of the ratio within each round.",
    ]


def render_text(res: Results) -> str:
    """The terminal report."""
    parts = [_aligned(table_rows(res)), *_notes(), "", _aligned(_ratio_rows(res))]
    if res.cold:
        parts += ["", "first requests after start-up (medians):", _aligned(_cold_rows(res))]
    if res.startup:
        parts += ["", "packserve start-up against repository size (medians):",
                  _aligned(_startup_rows(res))]
    if res.memory:
        parts += ["", "packserve resident memory, concurrent huge downloads:",
                  _aligned(_memory_rows(res))]
    for p in res.profiles:
        parts += ["", f"profile {p.workload} ({p.samples} samples, {p.collapsed}):"]
        parts += ["  by area: " + ", ".join(f"{a} {share:.0%}" for a, share in p.areas)]
        parts += [f"  self {share:6.1%}  {frame}" for frame, share in p.top_self[:8]]
    parts += ["", *_repo_lines(res)]
    v = res.meta["versions"]
    parts += [f"machine: {res.meta['machine']}; {res.meta['pinning']}; uvicorn {v['uvicorn']} "
              f"with {v['uvicorn_http']} on {v['uvicorn_loop']}"]
    if res.problems:
        parts += ["", "problems:", *(f"  {p}" for p in res.problems)]
    return "\n".join(parts)


def render_markdown(res: Results) -> str:
    """The Markdown report (the README section is copied from it)."""
    meta = res.meta
    parts = [
        "# packserve benchmark",
        "",
        f"Machine: {meta['machine']}; uvicorn {meta['versions']['uvicorn']} with "
        f"{meta['versions']['uvicorn_http']} on {meta['versions']['uvicorn_loop']}. "
        f"Code: {meta.get('project_commit', '?')}. Command: `{meta['command']}`. "
        f"Started {meta['started']}; {meta['rounds']} round(s), {meta['duration']} s per run; "
        f"{meta['pinning']}.",
        "",
        *[f"- {line}" for line in _repo_lines(res)[:1]],
        *[f"- `{line.strip()}`" for line in _repo_lines(res)[1:]],
        "",
        "## Requests per second (medians)",
        "",
        _markdown_table(table_rows(res)),
        "",
        *_notes(),
        "",
        "## Targets",
        "",
        _markdown_table(_ratio_rows(res), right=False),
    ]
    if res.cold:
        parts += ["", "## First requests after start-up", "", _markdown_table(_cold_rows(res))]
    if res.startup:
        parts += ["", "## Start-up against repository size (medians)", "",
                  _markdown_table(_startup_rows(res))]
    if res.memory:
        parts += ["", "## Resident memory under concurrent downloads", "",
                  _markdown_table(_memory_rows(res))]
    for p in res.profiles:
        parts += ["", f"## Profile: {p.workload}", "",
                  f"{p.samples} samples; collapsed stacks in `{p.collapsed}`. Self time by "
                  "area: " + ", ".join(f"{a} {share:.0%}" for a, share in p.areas) + ".", "",
                  "| self | function | | inclusive | packserve function |",
                  "|---:|---|---|---:|---|"]
        for i in range(max(len(p.top_self), len(p.top_app))):
            s = p.top_self[i] if i < len(p.top_self) else ("", 0.0)
            n = p.top_app[i] if i < len(p.top_app) else ("", 0.0)
            parts.append(f"| {s[1]:.1%} | `{s[0]}` | | {n[1]:.1%} | `{n[0]}` |")
    if res.problems:
        parts += ["", "## Problems", "", *[f"- {p}" for p in res.problems]]
    return "\n".join(parts) + "\n"


def to_json(res: Results) -> dict[str, Any]:
    """Everything, as plain data."""
    return {
        "meta": res.meta,
        "cells": [
            {"contender": c, "workload": w, "verdict": asdict(cell.verdict) if cell.verdict
             else None, "runs": [asdict(r) if r else None for r in cell.runs],
             "median_rps": cell.rps,
             "median_mbps": cell.mbps, "error": cell.error}
            for (c, w), cell in res.cells.items()
        ],
        "ratios": [{**asdict(r), "verdict": r.verdict} for r in ratios(res)],
        "cold": {k: v if isinstance(v, str) else asdict(v) for k, v in res.cold.items()},
        "startup": {k: [asdict(s) for s in v] for k, v in res.startup.items()},
        "memory": [{**asdict(m), "added_mb": m.added_mb} for m in res.memory],
        "profiles": [asdict(p) for p in res.profiles],
        "problems": res.problems,
    }


def write(res: Results, out_dir: Path, stem: str) -> tuple[Path, Path]:
    """Write ``<stem>.json`` and ``<stem>.md`` (and ``latest.*`` copies) to ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data = json.dumps(to_json(res), indent=1, default=str)
    markdown = render_markdown(res)
    for name in (stem, "latest"):
        (out_dir / f"{name}.json").write_text(data)
        (out_dir / f"{name}.md").write_text(markdown)
    return out_dir / f"{stem}.json", out_dir / f"{stem}.md"
