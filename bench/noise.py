"""Foreign CPU load during a timed run: how much of the machine something else used.

The machine may be shared (other sessions' tests, a build), and load that is not ours skews
a run. Over the run, busy time of the whole machine (``/proc/stat``: user, nice, system,
steal; not irq/softirq, which is mostly our own loopback traffic) minus the CPU time of the
server's process group, of the harness and of its reaped children (wrk) is what others used;
it is reported as a share of the machine's capacity, so the harness can retry a disturbed
run and the report can flag one. ``wait_calm`` holds a run back (briefly) while the machine
is busy with something else.
"""

from __future__ import annotations

import os
import resource
import time

from bench.contenders import Server

_TICKS = os.sysconf("SC_CLK_TCK")


def _machine_busy() -> float:
    """Busy CPU seconds of all cores since boot."""
    with open("/proc/stat") as fh:
        fields = [int(v) for v in fh.readline().split()[1:]]
    user, nice, system, _idle, _iowait, _irq, _softirq, steal = fields[:8]
    return (user + nice + system + steal) / _TICKS


def _ours() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class ForeignLoad:
    """``with ForeignLoad(server) as load: ...`` then ``load.share`` (0..1 of the machine)."""

    def __init__(self, server: Server) -> None:
        self._server = server
        self.share = 0.0
        self._start = (0.0, 0.0, 0.0, 0.0)

    def __enter__(self) -> ForeignLoad:
        self._start = (time.monotonic(), _machine_busy(), _ours(),
                       self._server.cpu_and_rss()[0])
        return self

    def __exit__(self, *exc: object) -> None:
        t0, busy0, ours0, server0 = self._start
        elapsed = time.monotonic() - t0
        busy = _machine_busy() - busy0
        mine = (_ours() - ours0) + (self._server.cpu_and_rss()[0] - server0)
        capacity = elapsed * (os.cpu_count() or 1)
        self.share = max(0.0, busy - mine) / capacity if capacity else 0.0


def wait_calm(threshold: float = 0.15, limit: float = 5.0) -> float:
    """Wait (at most ``limit`` seconds) until the machine, with our servers idle, is busier
    than ``threshold`` of its capacity no more; return the seconds waited."""
    started = time.monotonic()
    capacity = 0.25 * (os.cpu_count() or 1)
    while time.monotonic() - started < limit:
        busy0, ours0 = _machine_busy(), _ours()
        time.sleep(0.25)
        if (_machine_busy() - busy0 - (_ours() - ours0)) / capacity < threshold:
            break
    return time.monotonic() - started
