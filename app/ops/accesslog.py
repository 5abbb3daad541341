"""Access log: one line per response, as text (Combined Log Format plus timing) or JSON.

Rules: lines go to the ``packserve.access`` logger (stdout by default, see
``configure``), so an operator can redirect them with standard logging. The client
address is ``scope["client"]``, which uvicorn has already replaced by the
``X-Forwarded-For`` address when the peer is in ``forwarded_allow_ips``.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass

LOGGER = logging.getLogger("packserve.access")


@dataclass(frozen=True, slots=True)
class Record:
    """What the service knows about a finished request."""

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


def _quoted(value: str) -> str:
    # Client-supplied text must not break the line's quoting or split it in two.
    if '"' in value or "\\" in value or not value.isprintable():
        return value.encode("unicode_escape").decode("ascii").replace('"', '\\"')
    return value


class AccessLog:
    """Formats ``Record``s as ``text`` or ``json`` lines and writes them to ``LOGGER``."""

    def __init__(self, fmt: str) -> None:
        if fmt not in ("text", "json"):
            raise ValueError(f"access log format {fmt!r}")
        self._format = self._json if fmt == "json" else self._text
        self._second = -1
        self._stamps = ("", "")

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
        return (
            f'{r.client} - - [{clf}] "{r.method} {_quoted(r.target)} HTTP/{r.http_version}" '
            f'{r.status} {r.sent} "{_quoted(r.referer) or "-"}" "{_quoted(r.user_agent) or "-"}" '
            f"{r.seconds:.6f} {r.representation} {_quoted(r.host) or '-'}"
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
        """Log one line for ``record``."""
        if LOGGER.isEnabledFor(logging.INFO):
            LOGGER.info(self._format(record))


def configure() -> None:
    """Send access lines to stdout, bare, unless logging was configured already."""
    if not LOGGER.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        LOGGER.addHandler(handler)
        LOGGER.setLevel(logging.INFO)
        LOGGER.propagate = False
