"""Access log: one line per response, as text (Combined Log Format plus timing) or JSON.

Rules:
1. Lines go to stdout (the container way: the platform collects and redirects it).
2. Cheap per request: no ``logging`` record, no syscall per line. Lines are buffered and
   written together when ``MAX_PENDING`` are waiting, ``FLUSH_DELAY`` seconds after the
   first of them (a timer on the running event loop), and at exit — so a quiet server
   still shows a request within a second.
3. The client address is ``scope["client"]``, which uvicorn has already replaced by the
   ``X-Forwarded-For`` address when the peer is in ``forwarded_allow_ips``.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import sys
import time
from typing import NamedTuple, TextIO

MAX_PENDING = 256
FLUSH_DELAY = 1.0


class Record(NamedTuple):
    """What the service knows about a finished request.

    A named tuple because one is built per request: a frozen dataclass's ``__init__`` costs
    three times as much (1.7 µs against 0.5 µs, measured with eleven fields).
    """

    client: str
    method: str
    target: str  # path and query as sent (raw_path), not decoded
    http_version: str
    host: str
    status: int
    sent: int
    seconds: float
    representation: str
    referer: str
    user_agent: str


def _clean(value: str) -> bool:
    return '"' not in value and "\\" not in value and value.isprintable()


def _quoted(value: str) -> str:
    # Client-supplied text must not break the line's quoting or split it in two.
    if _clean(value):
        return value
    return value.encode("unicode_escape").decode("ascii").replace('"', '\\"')


class AccessLog:
    """Formats ``Record``s as ``text`` or ``json`` lines and writes them to ``stream``."""

    def __init__(self, fmt: str, stream: TextIO | None = None) -> None:
        if fmt not in ("text", "json"):
            raise ValueError(f"access log format {fmt!r}")
        self._format = self._json if fmt == "json" else self._text
        self._stream = stream
        self._pending: list[str] = []
        self._second = -1
        self._stamps = ("", "")
        atexit.register(self.flush)

    def _timestamps(self) -> tuple[str, str]:
        # Formatting a time is the costliest part of a line: do it once per second.
        now = int(time.time())
        if now != self._second:
            tm = time.gmtime(now)
            self._stamps = (
                time.strftime("%d/%b/%Y:%H:%M:%S +0000", tm),
                time.strftime("%Y-%m-%dT%H:%M:%SZ", tm),
            )
            self._second = now
        return self._stamps

    def _text(self, r: Record) -> str:
        clf, _ = self._timestamps()
        target, referer, agent, host = r.target, r.referer, r.user_agent, r.host
        if not _clean(target + referer + agent + host):
            # Rare: some client text needs escaping (one check for the usual clean line).
            target, referer, agent, host = map(_quoted, (target, referer, agent, host))
        return (
            f'{r.client} - - [{clf}] "{r.method} {target} HTTP/{r.http_version}" '
            f'{r.status} {r.sent} "{referer or "-"}" "{agent or "-"}" '
            f"{r.seconds:.6f} {r.representation} {host or '-'}"
        )

    def _json(self, r: Record) -> str:
        _, iso = self._timestamps()
        return json.dumps(
            {
                "time": iso, "client": r.client, "method": r.method, "target": r.target,
                "http_version": r.http_version, "host": r.host, "status": r.status,
                "bytes": r.sent, "duration": round(r.seconds, 6),
                "representation": r.representation, "referer": r.referer,
                "user_agent": r.user_agent,
            },
            separators=(",", ":"),
        )

    def write(self, record: Record) -> None:
        """Log one line for ``record`` (buffered; see the module rules)."""
        self._pending.append(self._format(record))
        if len(self._pending) >= MAX_PENDING:
            self.flush()
        elif len(self._pending) == 1:
            try:
                asyncio.get_running_loop().call_later(FLUSH_DELAY, self.flush)
            except RuntimeError:  # no event loop (a command, a test): nothing to wait for
                self.flush()

    def flush(self) -> None:
        """Write every pending line now."""
        if not self._pending:
            return
        text = "\n".join(self._pending) + "\n"
        self._pending.clear()
        stream = self._stream or sys.stdout
        stream.write(text)
        stream.flush()
