"""Driving a server with wrk: one Lua script per request shape, one JSON line per run.

The script sets the path and headers and, in ``done``, prints the summary wrk keeps
(requests, bytes, errors, latency percentiles) as one JSON line, parsed here. wrk runs with
one thread on the load-generator core (the harness pins itself there; children inherit).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

_MARK = "BENCH_JSON "

_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d}\\n',
    "MARK", summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(99)))
end
""".replace("MARK", _MARK)


@dataclass(frozen=True, slots=True)
class WrkResult:
    """One wrk run."""

    requests: int
    seconds: float
    bytes: int  # everything read, headers included
    errors: int  # socket errors and timeouts
    bad_status: int  # responses outside 2xx/3xx
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0


def require() -> str:
    """The wrk binary, or a clear error."""
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("bench: wrk not found; install it (Debian: apt-get install wrk)")
    return found


def _lua_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def script(path: str, headers: dict[str, str]) -> str:
    """The Lua script for ``GET path`` with ``headers``."""
    lines = ["wrk.method = \"GET\"", f"wrk.path = {_lua_string(path)}"]
    lines += [f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items()]
    return "\n".join(lines) + "\n" + _DONE


def run(binary: str, port: int, script_path: Path, *, connections: int, duration: int,
        timeout: float) -> WrkResult:
    """One wrk run against 127.0.0.1:``port``."""
    argv = [binary, "-t1", f"-c{connections}", f"-d{duration}", f"--timeout={int(timeout)}",
            "-s", str(script_path), f"http://127.0.0.1:{port}"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + timeout + 30,
                          check=False)
    for line in done.stdout.splitlines():
        if line.startswith(_MARK):
            data = json.loads(line[len(_MARK):])
            return WrkResult(
                requests=data["requests"],
                seconds=data["duration_us"] / 1e6,
                bytes=data["bytes"],
                errors=data["connect"] + data["read"] + data["write"] + data["timeout"],
                bad_status=data["status"],
                p50_ms=data["p50_us"] / 1000,
                p99_ms=data["p99_us"] / 1000,
            )
    raise RuntimeError(f"wrk gave no summary (exit {done.returncode}): {done.stderr.strip()}")
