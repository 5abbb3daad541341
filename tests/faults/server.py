"""A real ``packserve serve`` process on 127.0.0.1, for the socket-level fault tests.

Rules:
1. The server is the production entry point (``python -m app serve``), in its own process
   and session, so a crash, a leak or a hang shows up as such and its memory can be read
   from ``/proc/<pid>/status`` (``VmRSS`` now, ``VmHWM`` the peak).
2. Every server started is stopped: ``Server`` is a context manager that terminates, then
   kills, the process it started (by its pid, never by name).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from tests.servers import PACKSERVE, ROOT, free_port


class Server:
    """``packserve serve REPO`` on a free port; ``url`` once ``start`` returns."""

    def __init__(self, repo: Path, workdir: Path, *args: str) -> None:
        self.repo = repo
        self.workdir = workdir
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.log_path = workdir / "server.log"

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:40123``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> Server:
        """Start the process and wait until it accepts connections."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        env.pop("PACKSERVE_CONFIG", None)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    *PACKSERVE,
                    "serve",
                    str(self.repo),
                    "--port",
                    str(self.port),
                    "--cache-dir",
                    str(self.workdir / "cache"),
                    *self.args,
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited at start-up: {self.log()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("server did not start listening") from None
                time.sleep(0.05)

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.proc is not None and self.proc.poll() is None

    def memory_kb(self) -> tuple[int, int]:
        """(VmRSS, VmHWM) of the server process in KiB: resident now, and the peak."""
        if self.proc is None:
            return 0, 0
        values: dict[str, int] = {}
        with open(f"/proc/{self.proc.pid}/status") as status:
            for line in status:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    values[key] = int(rest.split()[0])
        return values.get("VmRSS", 0), values.get("VmHWM", 0)

    def open_fds(self) -> int:
        """How many file descriptors the server holds (sockets included)."""
        if self.proc is None:
            return 0
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def log(self) -> str:
        """Everything the server wrote so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        """Terminate (then kill) the process this object started."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
