"""Run ``packserve`` as a separate process and wait for it to answer (ops tests)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

import httpx

from tests.servers import ROOT


@dataclass
class Running:
    """A packserve process that answers on ``port``."""

    process: subprocess.Popen[bytes]
    client: httpx.Client
    port: int

    def terminate(self) -> None:
        """SIGTERM, as ``docker stop`` or systemd send it."""
        self.process.send_signal(signal.SIGTERM)


@contextmanager
def running(
    argv: Sequence[str], env: Mapping[str, str], port: int, stdout: IO[bytes] | None = None
) -> Iterator[Running]:
    """Start ``argv`` (a packserve command line), wait for /-/healthz, stop it with SIGTERM.
    The process's standard output goes to ``stdout`` (default: discarded).

    On leaving, asserts the process shut down on its own: uvicorn finishes in-flight
    responses, logs "Finished server process", then re-raises the SIGTERM it caught, so the
    exit status is that signal's (or 0).
    """
    proc = subprocess.Popen(
        list(argv), env={**os.environ, **env}, cwd=ROOT,
        stdout=subprocess.DEVNULL if stdout is None else stdout, stderr=subprocess.PIPE,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            deadline = time.monotonic() + 30
            while True:
                if proc.poll() is not None:
                    _, err = proc.communicate()
                    raise AssertionError(f"packserve exited {proc.returncode}: {err.decode()}")
                try:
                    if client.get("/-/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError("packserve did not answer /-/healthz")
                time.sleep(0.05)
            yield Running(proc, client, port)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode in (0, -signal.SIGTERM), err.decode()
        assert b"Finished server process" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
