"""``python -m bench``: build or take the repository, start every contender, verify, time
interleaved rounds, measure cold start-up and memory, print one table, write the results.

Everything listens on 127.0.0.1; every run is bounded in time; every process started is
stopped on the way out (also on Ctrl-C or SIGTERM). The exit status is about the harness,
never about speed: 0 when it ran, 1 when it broke, 2 when a tool is missing, 3 with
``--strict`` when packserve failed to start or answered a workload wrongly.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from types import FrameType

from bench import coldstart, corpus, memory, pyspy, repo, synthetic, verify, wrk
from bench.contenders import CONTENDERS, DEFAULT_PACKSERVE_CMD, Fleet, Server, Setting, fleet
from bench.noise import ForeignLoad, wait_calm
from bench.plan import FULL, SMOKE, Plan, with_overrides
from bench.report import PACKSERVE, Cell, Results, Run, render_text, write
from bench.workloads import Workload, workloads

RESULTS_DIR = Path(__file__).resolve().parent / "results"
START_TIMEOUT = 120.0
# Under --smoke only these are timed (all are verified), to stay within CI's two minutes.
SMOKE_TIMED = ("small/identity", "small/gzip", "huge/deflate", "delta/deflate", "revalidate",
               "range")
RETRY_ABOVE = 0.25  # foreign load (share of the machine) that makes a run worth retrying
CALM_BUDGET = 300.0  # seconds a run may spend in all waiting for calm and retrying
PROFILED = ("small/identity", "small/gzip", "small/deflate", "revalidate", "large/gzip")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--smoke", action="store_true",
                   help="CI mode: tiny repository, one round of 1 s runs, a subset timed")
    p.add_argument("--repo", type=Path, help="benchmark this repository instead of generating")
    p.add_argument("--ref", help="with --repo: the branch to serve (default: HEAD's)")
    p.add_argument("--rounds", type=int, help="interleaved rounds (default 3)")
    p.add_argument("--duration", type=int, help="seconds per wrk run (default 2)")
    p.add_argument("--contenders", help="comma-separated subset of: "
                   + ", ".join(c.name for c in CONTENDERS))
    p.add_argument("--only", help="comma-separated subset of the workloads to time")
    p.add_argument("--skip", default="", help="comma-separated phases to skip: "
                   "cold, startup, memory")
    p.add_argument("--profile", action="store_true",
                   help="record py-spy profiles of packserve under " + ", ".join(PROFILED))
    p.add_argument("--packserve-cmd", default=DEFAULT_PACKSERVE_CMD,
                   help="packserve's command; {python}, {repo} and {port} are substituted "
                        f"(default: {DEFAULT_PACKSERVE_CMD!r})")
    p.add_argument("--cache-dir", type=Path, help="where generated repositories are cached "
                   "(default: $XDG_CACHE_HOME/packserve-bench)")
    p.add_argument("--results", type=Path, default=RESULTS_DIR, help="output directory")
    p.add_argument("--no-pin", action="store_true", help="do not pin servers and wrk to cores")
    p.add_argument("--strict", action="store_true",
                   help="exit 3 if packserve fails to start or answers a workload wrongly")
    return p


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} x {model}, Linux {platform.release()}, "
            f"Python {platform.python_version()}")


def _versions() -> dict[str, str]:
    import dulwich
    import pygit2
    import starlette
    import uvicorn

    def tool(argv: list[str]) -> str:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
        except OSError:
            return "missing"
        lines = (done.stdout + done.stderr).strip().splitlines()
        return lines[0] if lines else "?"

    def importable(module: str) -> bool:
        return importlib.util.find_spec(module) is not None

    # uvicorn picks httptools and uvloop when installed (uvicorn[standard]); without them it
    # runs h11 (pure Python) on asyncio, several times slower for small responses.
    return {
        "uvicorn_http": "httptools" if importable("httptools") else "h11",
        "uvicorn_loop": "uvloop" if importable("uvloop") else "asyncio",
        "uvicorn": uvicorn.__version__, "starlette": starlette.__version__,
        "pygit2": str(getattr(pygit2, "__version__", "?")),
        "dulwich": ".".join(map(str, dulwich.__version__)),
        "nginx": tool(["nginx", "-v"]), "wrk": tool(["wrk", "-v"]),
        "git": tool(["git", "--version"]),
    }


def _project_commit() -> str:
    """The commit of the code being measured (``+dirty`` with uncommitted changes)."""
    def out(*argv: str) -> str:
        done = subprocess.run(["git", *argv], cwd=Path(__file__).resolve().parents[1],
                              capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = out("rev-parse", "--short=12", "HEAD") or "unknown"
    return commit + ("+dirty" if out("status", "--porcelain", "--untracked-files=no") else "")


def _pin(no_pin: bool) -> tuple[int | None, str]:
    """Pin this process (and so wrk) to one core; return the servers' core."""
    cpus = sorted(os.sched_getaffinity(0))
    if no_pin or len(cpus) < 2:
        return None, "not pinned"
    os.sched_setaffinity(0, {cpus[1]})
    return cpus[0], f"servers on CPU {cpus[0]}, wrk and clients on CPU {cpus[1]}"


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


class _Bench:
    """One run: the fleet, the cells, the phases."""

    def __init__(self, plan: Plan, args: argparse.Namespace, setting: Setting,
                 bodies: dict[str, corpus.Bodies], results: Results, wrk_bin: str) -> None:
        self.plan = plan
        self.args = args
        self.setting = setting
        self.bodies = bodies
        self.res = results
        self.wrk = wrk_bin
        self.scripts: dict[tuple[str, str], Path] = {}
        self.calm_budget = CALM_BUDGET

    def guard(self, what: str, action: Callable[[], object]) -> None:
        """Run a phase; a contender's failure is recorded, not fatal."""
        try:
            action()
        except (RuntimeError, OSError, TimeoutError, subprocess.SubprocessError) as exc:
            self.res.problems.append(f"{what}: {exc}")
            _log(f"problem: {what}: {exc}")

    def start_all(self, fl: Fleet) -> dict[str, Server]:
        servers: dict[str, Server] = {}
        for name in self.res.contenders:
            def start(name: str = name) -> None:
                env = {"XDG_CACHE_HOME": tempfile.mkdtemp(prefix="xdg-",
                                                          dir=self.setting.run_dir)}
                server = fl.spawn(name, env=env)
                try:
                    server.wait_ready(self.bodies["small"].url, START_TIMEOUT)
                except RuntimeError:
                    server.stop()
                    raise
                servers[name] = server
            self.guard(f"start {name}", start)
        return servers

    def verify_all(self, servers: dict[str, Server]) -> None:
        for w in self.res.workloads:
            for name, server in servers.items():
                bodies = self.bodies[w.role]
                verdict = verify.check(server.port, w, bodies)
                self.res.cells[(name, w.name)] = Cell(verdict=verdict)
                if verdict.state == "wrong":
                    _log(f"{name} {w.name}: WRONG: {verdict.note}")
                if verdict.state != "ok":
                    continue
                path = self.setting.run_dir / "lua" / f"{name}-{w.name}.lua".replace("/", "-")
                path.parent.mkdir(exist_ok=True)
                headers = w.headers(len(bodies.identity), verdict.etag)
                path.write_text(wrk.script(bodies.url, headers))
                self.scripts[(name, w.name)] = path

    def _timed(self) -> list[Workload]:
        names = self.args.only.split(",") if self.args.only else None
        if names is None and self.args.smoke:
            names = list(SMOKE_TIMED)
        return [w for w in self.res.workloads if names is None or w.name in names]

    def _load(self, server: Server, w: Workload, seconds: int) -> Run:
        with ForeignLoad(server) as load:
            result = wrk.run(self.wrk, server.port, self.scripts[(server.name, w.name)],
                             connections=w.connections, duration=seconds, timeout=w.timeout)
        server.wait_idle()
        return Run(result, load.share)

    def _timed_run(self, server: Server, w: Workload) -> Run:
        """A timed run, started when the machine is calm; one disturbed by foreign load
        anyway is retried once, the calmer kept. Waits and retries draw on one budget per
        harness run, so a machine that never calms down cannot stretch the run unboundedly
        (and the smoke plan does neither)."""
        if self.plan.calm and self.calm_budget > 0:
            self.calm_budget -= wait_calm(limit=min(3.0, self.calm_budget))
        run = self._load(server, w, w.duration)
        if self.plan.calm and run.foreign_cpu > RETRY_ABOVE and self.calm_budget > 0:
            self.calm_budget -= wait_calm(limit=min(3.0, self.calm_budget)) + w.duration
            again = self._load(server, w, w.duration)
            run = min(run, again, key=lambda r: r.foreign_cpu)
        return run

    def rounds(self, servers: dict[str, Server]) -> None:
        timed = self._timed()
        names = list(servers)
        runs = sum(1 for w in timed for n in names if (n, w.name) in self.scripts)
        if self.plan.warmup:
            _log(f"warm-up: {runs} runs of {self.plan.warmup} s")
            for w in timed:
                for name in names:
                    if (name, w.name) in self.scripts:
                        self.guard(f"warm-up {name} {w.name}",
                                    partial(self._load, servers[name], w, self.plan.warmup))
        for r in range(self.plan.rounds):
            _log(f"round {r + 1}/{self.plan.rounds}: {runs} runs")
            # Rotate the contender order each round: no one always runs right after another.
            order = names[r % len(names):] + names[: r % len(names)]
            for w in timed:
                for name in order:
                    if (name, w.name) not in self.scripts:
                        continue
                    cell = self.res.cells[(name, w.name)]
                    cell.runs.append(None)
                    try:
                        cell.runs[r] = self._timed_run(servers[name], w)
                    except (RuntimeError, subprocess.SubprocessError) as exc:
                        cell.error = str(exc)
                        _log(f"{name} {w.name}: wrk failed: {exc}")

    def profile(self, servers: dict[str, Server]) -> None:
        binary = pyspy.binary()
        server = servers.get(PACKSERVE)
        if binary is None or server is None:
            self.res.problems.append("profile: py-spy not installed (pip install py-spy) or "
                                     "packserve not running")
            return
        out_dir = self.args.results / "profiles"
        out_dir.mkdir(parents=True, exist_ok=True)
        seconds = max(self.plan.duration, 3)
        for name in PROFILED:
            w = next((w for w in self.res.workloads if w.name == name), None)
            if w is None or (PACKSERVE, name) not in self.scripts:
                continue
            out = out_dir / f"packserve-{name.replace('/', '-')}.collapsed"
            recorder = pyspy.start(binary, server.pid, seconds + 1, out)
            time.sleep(0.3)  # let py-spy attach before the load starts
            try:
                self._load(server, w, seconds)
            finally:
                recorder.wait(timeout=60)
            if out.exists():
                self.res.profiles.append(pyspy.summarize(name, out))
            else:
                self.res.problems.append(f"profile {name}: py-spy wrote nothing")

    def cold(self, fl: Fleet) -> None:
        for name in self.res.contenders:
            try:
                self.res.cold[name] = coldstart.first_requests(
                    fl, name, self.bodies["small"], self.bodies["delta"], self.plan.cold_repeats)
            except RuntimeError as exc:
                self.res.cold[name] = f"failed: {str(exc).splitlines()[0]}"

    def startup(self, fl: Fleet, cache_dir: Path) -> None:
        few, many = self.plan.startup_objects
        repos = {
            f"{few:,}": synthetic.synthetic(few, cache_dir, _log),
            f"{many:,}": synthetic.synthetic(many, cache_dir, _log),
            f"{many:,} with .rev": synthetic.synthetic(many, cache_dir, _log, rev=True),
        }
        self.res.meta["startup_pair"] = [f"{few:,}", f"{many:,}"]
        self.res.meta["startup_objects"] = {
            label: synthetic.object_count(path) for label, path in repos.items()}
        self.res.startup = coldstart.startup_scaling(fl, repos, self.plan.startup_repeats)

    def memory(self, fl: Fleet) -> None:
        env = {"XDG_CACHE_HOME": tempfile.mkdtemp(prefix="xdg-", dir=self.setting.run_dir)}
        server = fl.spawn(PACKSERVE, env=env, tag="-memory")
        try:
            server.wait_ready(self.bodies["small"].url, START_TIMEOUT)
            self.res.memory = memory.measure(server, self.bodies["huge"],
                                             self.plan.memory_clients)
        finally:
            server.stop()


def _strict_failures(res: Results) -> list[str]:
    bad = [f"{w}: {cell.verdict.note}" for (c, w), cell in res.cells.items()
           if c == PACKSERVE and cell.verdict and cell.verdict.state == "wrong"]
    if PACKSERVE in res.contenders and not any(c == PACKSERVE for c, _ in res.cells):
        bad.append("packserve did not start")
    return bad


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; see ``--help``."""
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    wrk_bin = wrk.require()
    plan = with_overrides(SMOKE if args.smoke else FULL, rounds=args.rounds,
                          duration=args.duration)
    cache_home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    cache_dir = args.cache_dir or Path(cache_home) / "packserve-bench"
    names = args.contenders.split(",") if args.contenders else [c.name for c in CONTENDERS]
    unknown = set(names) - {c.name for c in CONTENDERS}
    if unknown:
        raise SystemExit(f"bench: unknown contender(s): {', '.join(sorted(unknown))}")
    if shutil.which("nginx") is None and any(n.startswith("nginx") for n in names):
        _log("nginx not found (Debian: apt-get install nginx-light); skipping it")
        names = [n for n in names if not n.startswith("nginx")]
    skip = set(filter(None, args.skip.split(",")))
    server_cpu, pinning = _pin(args.no_pin)
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    run_dir = Path(tempfile.mkdtemp(prefix="packserve-bench-"))
    keep_logs = True  # until the run completes without problems
    try:
        if args.repo:
            bench_repo = repo.existing(args.repo.resolve(), args.ref, plan.shape, cache_dir)
        else:
            bench_repo = repo.generated(plan.shape, cache_dir, _log)
        _log(f"repository {bench_repo.git_dir}: {bench_repo.tip_deltas}/{bench_repo.tip_blobs}"
             f" tip blobs stored as deltas")
        bodies = corpus.build(bench_repo)
        manifest = corpus.write_manifest(bodies, run_dir / "corpus")
        setting = Setting(git_dir=bench_repo.git_dir, checkout=bench_repo.checkout,
                          ref=bench_repo.ref, manifest=manifest, run_dir=run_dir,
                          packserve_cmd=args.packserve_cmd, server_cpu=server_cpu)
        repo_meta = asdict(bench_repo)
        repo_meta["delta_fraction"] = bench_repo.delta_fraction
        results = Results(
            meta={"machine": _machine(), "pinning": pinning, "versions": _versions(),
                  "project_commit": _project_commit(),
                  "command": shlex.join(["python", "-m", "bench", *(argv or sys.argv[1:])]),
                  "started": started, "rounds": plan.rounds, "duration": plan.duration,
                  "plan": asdict(plan), "repo": repo_meta,
                  "packserve_cmd": args.packserve_cmd},
            contenders=names, workloads=workloads(plan), cells={},
        )
        bench = _Bench(plan, args, setting, bodies, results, wrk_bin)
        with fleet(setting) as fl:
            servers = bench.start_all(fl)
            bench.verify_all(servers)
            bench.rounds(servers)
            results.meta["calm_wait_s"] = round(CALM_BUDGET - bench.calm_budget, 1)
            if args.profile:
                bench.profile(servers)
            fl.close()
            if "cold" not in skip:
                _log("cold starts")
                bench.cold(fl)
            if "startup" not in skip and PACKSERVE in servers:
                _log("start-up against repository size")
                bench.guard("start-up", lambda: bench.startup(fl, cache_dir))
            if "memory" not in skip and PACKSERVE in servers:
                _log("resident memory under concurrent downloads")
                bench.guard("memory", lambda: bench.memory(fl))
        results.meta["finished"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        print(render_text(results))
        stem = ("smoke-" if args.smoke else "") + started.replace(":", "")
        json_path, md_path = write(results, args.results, stem)
        _log(f"results: {json_path} and {md_path}")
        keep_logs = bool(results.problems)
        failures = _strict_failures(results) if args.strict else []
        for failure in failures:
            _log(f"strict: packserve {failure}")
        return 3 if failures else 0
    finally:
        shutil.rmtree(run_dir / "corpus", ignore_errors=True)
        if keep_logs:
            _log(f"server logs kept in {run_dir}")
        else:
            shutil.rmtree(run_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

