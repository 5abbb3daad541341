"""nginx, the native reference: a generated configuration, run in the foreground.

One worker process, ``sendfile on``, no access log, keep-alive connections never recycled
(as uvicorn's are not). The gzip variant adds ``gzip on; gzip_types *;`` at level 6, zlib's
default and git's, so compressed sizes compare with the packs'.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

GZIP_LEVEL = 6


def _config(prefix: Path, port: int, ref: str, checkout: Path, gzip: bool) -> str:
    temp = "\n".join(
        f"    {name}_temp_path {prefix / 'tmp' / name};"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # As root the master would hand the worker to "nobody", who cannot read a checkout under
    # root's home; the benchmark only listens on loopback.
    user = "user root;\n" if os.geteuid() == 0 else ""
    gzip_block = (
        f"        gzip on;\n        gzip_types *;\n        gzip_comp_level {GZIP_LEVEL};\n"
        "        gzip_vary on;\n        gzip_min_length 20;\n"
        if gzip
        else ""
    )
    return f"""{user}worker_processes 1;
daemon off;
pid {prefix / 'nginx.pid'};
error_log {prefix / 'error.log'} warn;
events {{
    worker_connections 4096;
}}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
{temp}
    server {{
        listen 127.0.0.1:{port};
        location /{ref}/ {{
            alias {checkout}/;
        }}
{gzip_block}    }}
}}
"""


def command(prefix: Path, port: int, ref: str, checkout: Path, gzip: bool) -> list[str]:
    """Write the configuration under ``prefix``; return the foreground nginx command."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    (prefix / "tmp").mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(_config(prefix, port, ref, checkout.resolve(), gzip))
    return [binary, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
