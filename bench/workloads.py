"""The workloads: which file, which coding, which conditional or range headers, how hard.

Names are ``<file>/<coding>`` for plain GETs (file = small, medium, large, huge, whole,
delta), ``revalidate`` (If-None-Match with the ETag fetched first, expecting 304) and
``range`` (64 KiB in the middle of the large file, identity, expecting 206).
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.plan import Plan

RANGE_LENGTH = 64 * 1024
THROUGHPUT_ROLES = ("large", "huge")  # reported in MB/s besides req/s


@dataclass(frozen=True, slots=True)
class Workload:
    """One kind of request, repeated by wrk."""

    name: str
    role: str  # which file (``repo.ROLES``)
    coding: str  # the one coding Accept-Encoding asks for
    kind: str  # "get" | "revalidate" | "range"
    connections: int
    duration: int  # seconds
    timeout: float  # wrk's per-request timeout, seconds

    def headers(self, size: int, etag: str | None = None) -> dict[str, str]:
        """The request headers; ``size`` is the file's size, ``etag`` the validator."""
        headers = {"Accept-Encoding": self.coding}
        if self.kind == "revalidate":
            headers["If-None-Match"] = etag or '"none"'
        elif self.kind == "range":
            first, last = range_bounds(size)
            headers["Range"] = f"bytes={first}-{last}"
        return headers

    @property
    def expected_status(self) -> int:
        """The status a correct server answers with."""
        return {"get": 200, "revalidate": 304, "range": 206}[self.kind]


def range_bounds(size: int) -> tuple[int, int]:
    """First and last byte of the range requested from a file of ``size`` bytes."""
    length = min(RANGE_LENGTH, size)
    first = (size - length) // 2
    return first, first + length - 1


def workloads(plan: Plan) -> list[Workload]:
    """Every workload of a run, in table order."""
    out: list[Workload] = []
    for role in ("small", "medium", "large", "huge"):
        connections = {"large": plan.large_connections, "huge": plan.huge_connections}.get(
            role, plan.connections
        )
        duration = plan.huge_duration if role == "huge" else plan.duration
        timeout = 60.0 if role == "huge" else 10.0
        for coding in ("deflate", "gzip", "identity"):
            out.append(Workload(f"{role}/{coding}", role, coding, "get", connections,
                                duration, timeout))
    for role in ("whole", "delta"):
        out.append(Workload(f"{role}/deflate", role, "deflate", "get", plan.connections,
                            plan.duration, 10.0))
    out.append(Workload("revalidate", "small", "gzip", "revalidate", plan.connections,
                        plan.duration, 10.0))
    out.append(Workload("range", "large", "identity", "range", plan.connections,
                        plan.duration, 10.0))
    return out
