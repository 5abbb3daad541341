"""The contenders and their server processes.

Every server runs on 127.0.0.1 in its own process group (so stopping it stops its
children: nginx's worker, uvicorn's reloader if any), pinned with ``taskset`` to the server
core when the machine has two, with its output in a log file of the run directory. A
``Fleet`` owns every process started and stops them all on the way out, whatever happens.
"""

from __future__ import annotations

import http.client
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from bench import nginx

PROJECT = Path(__file__).resolve().parents[1]
DEFAULT_PACKSERVE_CMD = "{python} -m app serve {repo} --port {port}"


@dataclass(frozen=True, slots=True)
class Contender:
    """One server under test."""

    name: str
    description: str


CONTENDERS = (
    Contender("packserve", "packserve, one uvicorn worker, as the README runs it"),
    Contender("bare-asgi", "server ceiling: raw ASGI on uvicorn, bytes from memory"),
    Contender("starlette", "framework ceiling: a Starlette route, bytes from memory"),
    Contender("staticfiles", "Starlette StaticFiles over a checkout"),
    Contender("static+gzip", "StaticFiles behind GZipMiddleware (defaults: level 9)"),
    Contender("pygit2", "pygit2 (libgit2): ref, path and blob read per request"),
    Contender("dulwich", "dulwich (pure Python): ref, path and blob read per request"),
    Contender("nginx", "nginx 1 worker, sendfile on, over a checkout"),
    Contender("nginx+gzip", f"nginx as above with gzip on, level {nginx.GZIP_LEVEL}"),
)

_APP_KIND = {
    "bare-asgi": "bare",
    "starlette": "starlette",
    "staticfiles": "static",
    "static+gzip": "static-gzip",
    "pygit2": "pygit2",
    "dulwich": "dulwich",
}


@dataclass(frozen=True, slots=True)
class Setting:
    """What every contender serves, and how processes are placed."""

    git_dir: Path
    checkout: Path
    ref: str
    manifest: Path  # the in-memory ceilings' bytes (``corpus.write_manifest``)
    run_dir: Path
    packserve_cmd: str
    server_cpu: int | None  # None: no pinning (one core)


def free_port() -> int:
    """A port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def packserve_argv(template: str, repo: Path, port: int) -> list[str]:
    """The packserve command line from its template ({python}, {repo}, {port})."""
    text = template.format(
        python=shlex.quote(sys.executable), repo=shlex.quote(str(repo)), port=port
    )
    return shlex.split(text)


def command(name: str, setting: Setting, port: int) -> list[str]:
    """The command line that serves ``setting`` on ``port`` as contender ``name``."""
    if name == "packserve":
        return packserve_argv(setting.packserve_cmd, setting.git_dir, port)
    if name in ("nginx", "nginx+gzip"):
        prefix = setting.run_dir / f"{name.replace('+', '-')}-{port}"
        return nginx.command(prefix, port, setting.ref, setting.checkout, name == "nginx+gzip")
    return [
        sys.executable, "-m", "bench.apps", _APP_KIND[name], "--port", str(port),
        "--manifest", str(setting.manifest), "--checkout", str(setting.checkout),
        "--repo", str(setting.git_dir), "--ref", setting.ref,
    ]


def _group_stats(pgid: int) -> tuple[float, int]:
    """(CPU seconds, resident bytes) summed over the live processes of a process group."""
    ticks = os.sysconf("SC_CLK_TCK")
    page = os.sysconf("SC_PAGE_SIZE")
    cpu, rss = 0.0, 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command name: state ppid pgrp ...; utime/stime are fields 14/15, rss 24.
        if int(fields[2]) == pgid:
            cpu += (int(fields[11]) + int(fields[12])) / ticks
            rss += int(fields[21]) * page
    return cpu, rss


class Server:
    """One server process (group): started, probed, measured, stopped."""

    def __init__(self, name: str, argv: list[str], log: Path, port: int,
                 cpu: int | None, env: Mapping[str, str] | None = None) -> None:
        self.name = name
        self.port = port
        self.log = log
        pin = ["taskset", "-c", str(cpu)] if cpu is not None else []
        self._argv = pin + argv
        self._env = {**os.environ, **(env or {})}
        self._proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    @property
    def pid(self) -> int:
        """The leader's pid (also the process group id)."""
        if self._proc is None:
            raise RuntimeError(f"{self.name} is not running")
        return self._proc.pid

    def start(self) -> None:
        """Spawn the process in a new process group."""
        with self.log.open("ab") as out:
            self.started_at = time.monotonic()
            self._proc = subprocess.Popen(
                self._argv, cwd=PROJECT, env=self._env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )

    def wait_ready(self, path: str, timeout: float, *, any_status: bool = False) -> float:
        """Poll ``GET path`` until a 200 (with ``any_status``: any answer at all); return
        seconds since ``start``."""
        deadline = self.started_at + timeout
        while True:
            if self._proc is None or self._proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited during start-up; see {self.log}:\n"
                                   + self.log_tail())
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
                conn.request("GET", path, headers={"Accept-Encoding": "identity"})
                response = conn.getresponse()
                response.read()
                conn.close()
                if response.status == 200 or any_status:
                    return time.monotonic() - self.started_at
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} gave no 200 for {path} in {timeout:.0f} s; "
                                   f"see {self.log}:\n" + self.log_tail())
            time.sleep(0.005)

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the server's log."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def cpu_and_rss(self) -> tuple[float, int]:
        """CPU seconds and resident bytes of the whole process group."""
        return _group_stats(self.pid)

    def wait_idle(self, timeout: float = 20.0) -> None:
        """Wait until the group uses < 10% CPU (a request still in flight after a load run
        would otherwise steal the server core from the next contender)."""
        deadline = time.monotonic() + timeout
        before = self.cpu_and_rss()[0]
        while time.monotonic() < deadline:
            time.sleep(0.1)
            now = self.cpu_and_rss()[0]
            if now - before < 0.01:
                return
            before = now

    def stop(self) -> None:
        """SIGTERM the group, SIGKILL whatever is left after 5 s; idempotent."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(5.0)
            except subprocess.TimeoutExpired:
                pass
            # A leader that ignored SIGTERM, or children outliving it (nginx's worker).
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


class Fleet:
    """Every server started during a run; ``close`` stops them all."""

    def __init__(self, setting: Setting) -> None:
        self.setting = setting
        self._servers: list[Server] = []

    def spawn(self, name: str, *, env: Mapping[str, str] | None = None, tag: str = "",
              git_dir: Path | None = None) -> Server:
        """Start contender ``name`` on a fresh port (not yet ready); ``git_dir`` overrides
        the repository served (the start-up measurement's synthetic repositories)."""
        setting = self.setting if git_dir is None else replace(self.setting, git_dir=git_dir)
        port = free_port()
        log = self.setting.run_dir / f"{name.replace('+', '-')}{tag}.log"
        server = Server(name, command(name, setting, port), log, port,
                        self.setting.server_cpu, env)
        self._servers.append(server)
        server.start()
        return server

    def close(self) -> None:
        """Stop every server this fleet started."""
        for server in self._servers:
            server.stop()
        self._servers.clear()


@contextmanager
def fleet(setting: Setting) -> Iterator[Fleet]:
    """A ``Fleet`` whose servers are all stopped when the block exits."""
    owned = Fleet(setting)
    try:
        yield owned
    finally:
        owned.close()
